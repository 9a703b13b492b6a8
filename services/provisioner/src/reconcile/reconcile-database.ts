import type { Logger } from "@dbplane/service-kit";
import { pruneExpiredBackups } from "../backups/backup-retention.ts";
import { PermanentProvisionError } from "../domain/errors.ts";
import type { ShardDriver, ShardObservation } from "../drivers/driver.ts";
import type { Progress } from "../store/progress.ts";
import type { Queries } from "../store/queries.ts";
import type { DatabaseRow } from "../store/rows.ts";

export interface ReconcileDeps {
  readonly queries: Queries;
  readonly progress: Progress;
  readonly driver: ShardDriver;
  readonly logger: Logger;
  /** Transient failures in a row before a database is marked failed. */
  readonly maxAttempts: number;
}

/** What one pass did, for metrics and logs. */
export type PassOutcome = "idle" | "progressed" | "ready" | "failed" | "deleted" | "retry";

/** A permanent failure of one shard: the shard and the database fail together. */
class ShardPermanentError extends Error {
  override readonly name = "ShardPermanentError";
  readonly shard: number;
  constructor(shard: number, cause: PermanentProvisionError) {
    super(cause.message, { cause });
    this.shard = shard;
  }
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * One reconcile pass over one database: drives it one step closer to its desired state, or
 * confirms it is there. The caller holds the database's advisory lock, so no other replica runs
 * a pass on it at the same time. Idempotent: after a crash anywhere, the next pass repeats what
 * was not recorded, and the driver's operations are idempotent themselves.
 */
export async function reconcileDatabase(deps: ReconcileDeps, name: string): Promise<PassOutcome> {
  const db = await deps.queries.database(name);
  if (!db) return "idle";
  const log = deps.logger.child({ database: name, version: db.version });
  try {
    switch (db.state) {
      case "deleting":
        await deps.driver.removeDatabase(name, { keepVolumes: db.keepVolumes });
        await deps.progress.databaseDeleted(name, db.version, await operationOf(deps, db));
        log.info({ volumesKept: db.keepVolumes }, "database deleted");
        return "deleted";
      case "requested":
        await deps.progress.startProvisioning(name, db.version);
        // Awaited here, so that its failure is this pass's failure (caught below), not a crash.
        return await provision(deps, { ...db, state: "provisioning" }, log);
      case "provisioning":
      case "ready": {
        const outcome = await provision(deps, db, log);
        if (outcome === "ready" || (outcome === "idle" && db.state === "ready"))
          await runBackups(deps, db, log);
        return outcome;
      }
      default:
        return "idle";
    }
  } catch (err) {
    const correlationId = await operationOf(deps, db);
    if (err instanceof ShardPermanentError || err instanceof PermanentProvisionError) {
      const shard = err instanceof ShardPermanentError ? err.shard : undefined;
      // Expected and final (the reason says what to do): one warning, no stack; the database
      // leaves the active states, so no later pass logs it again.
      log.warn({ shard, reason: err.message }, "database failed");
      await deps.progress.databaseFailed(name, db.version, err.message, correlationId, shard);
      return "failed";
    }
    if (db.state === "deleting") {
      // A delete is never given up: what dbplane made must not be left behind.
      const attempts = await deps.progress.recordAttempt(name, db.version, message(err));
      log.warn({ err, attempts }, "delete pass failed; will retry");
      return "retry";
    }
    const attempts = await deps.progress.recordAttempt(name, db.version, message(err));
    if (attempts >= deps.maxAttempts) {
      log.error({ err, attempts }, "database failed after too many attempts");
      await deps.progress.databaseFailed(
        name,
        db.version,
        `gave up after ${attempts} attempts; last error: ${message(err)}`,
        correlationId,
      );
      return "failed";
    }
    log.warn({ err, attempts }, "reconcile pass failed; will retry");
    return "retry";
  }
}

async function operationOf(deps: ReconcileDeps, db: DatabaseRow): Promise<string> {
  return (await deps.queries.operationForVersion(db.name, db.version)) ?? db.operationId;
}

async function provision(deps: ReconcileDeps, db: DatabaseRow, log: Logger): Promise<PassOutcome> {
  await deps.driver.preflight(db.spec);
  const correlationId = await operationOf(deps, db);
  await removeShards(deps, db, correlationId, log);
  // Once per pass, before the shards (which run in parallel): one password for the database.
  const application = await deps.driver.ensureApplication(db.spec);
  const shards = (await deps.queries.shards(db.name)).filter((s) => s.shard < db.spec.shards);
  let endpointsChanged = false;
  const observations = await Promise.all(
    shards.map(async (s): Promise<ShardObservation> => {
      let seen: ShardObservation;
      try {
        seen = await deps.driver.ensureShard(
          { spec: db.spec, shard: s.shard, replicas: s.replicas, incarnation: db.incarnation },
          application,
        );
      } catch (err) {
        if (err instanceof PermanentProvisionError) throw new ShardPermanentError(s.shard, err);
        throw err;
      }
      if (seen.ready) {
        if (await deps.progress.shardReady(db.name, db.version, s.shard, seen.endpoint, correlationId))
          endpointsChanged = true;
      } else log.debug({ shard: s.shard, waitingFor: seen.waitingFor }, "shard not ready yet");
      return seen;
    }),
  );
  if (db.attempts > 0) await deps.progress.clearAttempts(db.name, db.version);
  if (shards.length !== db.spec.shards || !observations.every((o) => o.ready)) return "progressed";
  if (db.state === "ready") {
    // A replica made anew after a failover: the router and the collector learn of it.
    if (endpointsChanged) await deps.progress.endpointsAnnounced(db.name, db.version, correlationId);
    await deps.progress.reconciled(db.name, db.version);
    if (await deps.progress.applicationAnnounced(db.name, db.version, application.role, correlationId))
      log.info("application role announced for a database made before it existed");
    return "idle";
  }
  if (await deps.progress.databaseReady(db.name, db.version, correlationId, application.role)) {
    log.info({ shards: db.spec.shards }, "database ready");
    return "ready";
  }
  return "progressed";
}

/**
 * Drops the shards the spec no longer has (a remove-shard). The map is looked at again first: a
 * router that gave the shard a range since the removal was accepted keeps it (retried until the
 * range moves away or the database fails — never a shard that serves keys dropped).
 */
async function removeShards(deps: ReconcileDeps, db: DatabaseRow, correlationId: string, log: Logger) {
  const leaving = (await deps.queries.shards(db.name)).filter((s) => s.shard >= db.spec.shards);
  if (leaving.length === 0) return;
  const map = await deps.queries.shardOwners(db.name);
  for (const s of leaving.sort((a, b) => b.shard - a.shard)) {
    if (map?.owners.includes(s.shard)) {
      throw new Error(`shard ${s.shard} owns a range in shard map version ${map.mapVersion}; not removed`);
    }
    await deps.driver.removeShard(db.spec, s.shard);
    await deps.progress.shardRemoved(db.name, db.version, s.shard, correlationId);
    log.info({ shard: s.shard }, "shard removed");
  }
}

/**
 * Every pass of a ready database with a `retain`, not only after a backup: a deletion that runs
 * elsewhere (a Kubernetes Job) is seen finished on a later pass. A failure is logged and retried
 * then; it never fails the database.
 */
async function applyRetention(deps: ReconcileDeps, db: DatabaseRow, log: Logger): Promise<void> {
  if (!db.spec.backup?.retain || !deps.driver.pruneBackups) return;
  try {
    const pruned = await pruneExpiredBackups(deps, db.spec);
    if (pruned.length > 0) log.info({ pruned }, "expired backups deleted");
  } catch (err) {
    log.warn({ err }, "deleting expired backups failed; will retry");
  }
}

async function runBackups(deps: ReconcileDeps, db: DatabaseRow, log: Logger): Promise<void> {
  const shards = new Map((await deps.queries.shards(db.name)).map((s) => [s.shard, s]));
  for (const backup of await deps.queries.pendingBackups(db.name)) {
    const startedAt = await deps.progress.backupStarted(db.name, backup.backupId, backup.shard);
    const target = {
      spec: db.spec,
      shard: backup.shard,
      replicas: shards.get(backup.shard)?.replicas ?? 0,
      incarnation: db.incarnation,
    };
    const ids = { database: db.name, backupId: backup.backupId, shard: backup.shard, startedAt };
    try {
      const outcome = await deps.driver.backupShard(target, backup.backupId);
      if (!outcome.done) {
        log.debug(
          { backupId: backup.backupId, shard: backup.shard, waitingFor: outcome.waitingFor },
          "backup running",
        );
        continue;
      }
      await deps.progress.backupFinished({
        ...ids,
        ok: true,
        location: outcome.location,
        bytes: outcome.bytes,
        startLsn: outcome.startLsn,
        stopLsn: outcome.stopLsn,
      });
      log.info({ backupId: backup.backupId, shard: backup.shard, bytes: outcome.bytes }, "shard backed up");
    } catch (err) {
      log.error({ err, backupId: backup.backupId, shard: backup.shard }, "shard backup failed");
      await deps.progress.backupFinished({ ...ids, ok: false, reason: message(err) });
    }
  }
  await applyRetention(deps, db, log);
}
