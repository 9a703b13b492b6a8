import { createHash } from "node:crypto";
import type { ApplicationRole } from "@dbplane/contracts";
import { databaseDeleted, databaseFailed, databaseReady, shardFailed } from "@dbplane/contracts";
import type pg from "pg";
import { aggregateOf, eventIds } from "../domain/database-spec.ts";
import { enqueueEvent } from "./outbox.ts";
import { atVersion, clipReason, finishOperations, type ProgressContext } from "./progress-context.ts";
import type { DatabaseRow, ShardEndpoint } from "./rows.ts";
import type { ProvisionerTables } from "./schema-tables.ts";
import { keepShardMapVersion } from "./shard-map-history.ts";
import { forgetShardOwners } from "./shard-owners.ts";

/** The kinds of operation a database's readiness (or failure) ends. */
const SPEC_CHANGES = ["create", "add-shard", "remove-shard", "scale-replicas", "backup-policy"] as const;

export async function startProvisioning({ pool, t }: ProgressContext, name: string, version: number) {
  await pool.query(
    `UPDATE ${t.databases} SET state = 'provisioning', updated_at = now() WHERE name = $1 AND version = $2 AND state = 'requested'`,
    [name, version],
  );
}

/**
 * Every shard is ready: the database is, its pending create/change operations succeed, and
 * `database.ready` announces it with the application role's references.
 */
export function recordDatabaseReady(
  ctx: ProgressContext,
  name: string,
  version: number,
  correlationId: string,
  application?: ApplicationRole,
): Promise<boolean> {
  return atVersion(ctx, name, version, async ({ client, t, db }) => {
    if (!db || db.state === "ready" || db.state === "deleting" || db.state === "deleted") return false;
    const { rows } = await client.query(
      `SELECT shard, endpoint FROM ${t.shards} WHERE database = $1 AND state = 'ready' ORDER BY shard`,
      [name],
    );
    if (rows.length !== db.spec.shards) return false;
    await client.query(
      `UPDATE ${t.databases} SET state = 'ready', attempts = 0, reason = NULL, last_reconciled_at = now(),
         updated_at = now(), application = $2 WHERE name = $1`,
      [name, application ?? null],
    );
    await finishOperations(client, t, { name, kinds: SPEC_CHANGES, version });
    await enqueueReady(client, t, { name, version, db, shards: rows, application, correlationId });
    return true;
  });
}

/**
 * A ready database whose last `database.ready` did not name this application role (it became
 * ready before application roles existed, or the references moved): announces it again, so the
 * router picks the role up. False when there was nothing to announce.
 */
export function recordApplicationAnnounced(
  ctx: ProgressContext,
  name: string,
  version: number,
  application: ApplicationRole,
  correlationId: string,
): Promise<boolean> {
  return atVersion(ctx, name, version, async ({ client, t, db }) => {
    if (db?.state !== "ready") return false;
    const { rowCount } = await client.query(
      `UPDATE ${t.databases} SET application = $2 WHERE name = $1 AND application IS DISTINCT FROM $2::jsonb`,
      [name, application],
    );
    if (rowCount === 0) return false;
    const { rows } = await client.query(
      `SELECT shard, endpoint FROM ${t.shards} WHERE database = $1 AND state = 'ready' ORDER BY shard`,
      [name],
    );
    // One id per announced role, so a repeat of this very announcement is a duplicate.
    const digest = createHash("sha256").update(JSON.stringify(application)).digest("hex").slice(0, 12);
    const again = `${eventIds.ready(name, version)}:app-${digest}`;
    await enqueueReady(client, t, { name, version, db, shards: rows, application, correlationId, id: again });
    return true;
  });
}

/**
 * A ready database whose shards' endpoints changed at the same version (a replica made anew after
 * a failover): `database.ready` again with every shard, its id derived from the endpoints, so the
 * router's map names them and a repeat is a duplicate.
 */
export function recordEndpointsAnnounced(
  ctx: ProgressContext,
  name: string,
  version: number,
  correlationId: string,
): Promise<void> {
  return atVersion(ctx, name, version, async ({ client, t, db }) => {
    if (db?.state !== "ready") return;
    const { rows } = await client.query(
      `SELECT shard, endpoint FROM ${t.shards} WHERE database = $1 AND state = 'ready' ORDER BY shard`,
      [name],
    );
    const found = await client.query(`SELECT application FROM ${t.databases} WHERE name = $1`, [name]);
    const digest = createHash("sha256").update(JSON.stringify(rows)).digest("hex").slice(0, 12);
    const again = `${eventIds.ready(name, version)}:endpoints-${digest}`;
    const application = found.rows[0]?.application ?? undefined;
    await enqueueReady(client, t, { name, version, db, shards: rows, application, correlationId, id: again });
  });
}

export async function enqueueReady(
  client: pg.PoolClient,
  t: ProvisionerTables,
  ready: {
    name: string;
    version: number;
    db: DatabaseRow;
    shards: { shard: number; endpoint: ShardEndpoint }[];
    application: ApplicationRole | undefined;
    correlationId: string;
    id?: string;
  },
): Promise<void> {
  const { name, version, db, application } = ready;
  await enqueueEvent(
    client,
    t,
    databaseReady,
    {
      name,
      version,
      postgresVersion: db.spec.postgresVersion,
      shards: ready.shards.map((r) => ({ shard: r.shard, ...r.endpoint })),
      shardedTables: db.spec.shardedTables,
      // Only where the role's password and verifier are: never the secrets themselves.
      ...(application && { application }),
      // A restored database: the router's first map of it gets its source's ranges of that moment.
      ...(db.spec.restoreFrom?.ranges && { ranges: [...db.spec.restoreFrom.ranges] }),
    },
    {
      id: ready.id ?? eventIds.ready(name, version),
      subject: aggregateOf.database(name),
      correlationId: ready.correlationId,
    },
  );
}

/**
 * The database cannot be made real: failed (terminal until asked again), with the reason; the
 * shard that caused it (if one did) and every shard still provisioning fail with it.
 */
export function recordDatabaseFailed(
  ctx: ProgressContext,
  name: string,
  version: number,
  reason: string,
  correlationId: string,
  shard?: number,
): Promise<void> {
  return atVersion(ctx, name, version, async ({ client, t, db }) => {
    if (!db || db.state === "failed" || db.state === "deleting" || db.state === "deleted") return;
    const why = clipReason(reason);
    await client.query(
      `UPDATE ${t.databases} SET state = 'failed', reason = $2, updated_at = now() WHERE name = $1`,
      [name, why],
    );
    if (shard !== undefined) {
      await client.query(
        `UPDATE ${t.shards} SET state = 'failed', reason = $3, updated_at = now() WHERE database = $1 AND shard = $2`,
        [name, shard, why],
      );
      await enqueueEvent(
        client,
        t,
        shardFailed,
        { database: name, shard, reason: why },
        {
          id: eventIds.shardFailed(name, shard, version),
          subject: aggregateOf.shard(name, shard),
          correlationId,
        },
      );
    }
    // The other shards still being made stop there too: a failed database makes nothing more until
    // it is asked for again, so `provisioning` would be a promise nobody keeps. Ready shards stay
    // ready (their servers run and keep their data).
    await client.query(
      `UPDATE ${t.shards} SET state = 'failed', reason = $2, updated_at = now()
       WHERE database = $1 AND state = 'provisioning'`,
      [name, clipReason(`database failed: ${reason}`)],
    );
    await finishOperations(client, t, { name, kinds: SPEC_CHANGES, version, error: why });
    await enqueueEvent(
      client,
      t,
      databaseFailed,
      { name, reason: why },
      { id: eventIds.failed(name, version), subject: aggregateOf.database(name), correlationId },
    );
  });
}

/** Everything of the database is gone (volumes kept if asked). */
export function recordDatabaseDeleted(
  ctx: ProgressContext,
  name: string,
  version: number,
  correlationId: string,
): Promise<void> {
  return atVersion(ctx, name, version, async ({ client, t, db }) => {
    if (db?.state !== "deleting") return;
    await client.query(`UPDATE ${t.databases} SET state = 'deleted', updated_at = now() WHERE name = $1`, [
      name,
    ]);
    await client.query(`UPDATE ${t.shards} SET state = 'deleted', updated_at = now() WHERE database = $1`, [
      name,
    ]);
    // The router forgets the map too: one made for the name again starts at version 1. The
    // history stays (with the version in force now), for a restore from the kept backups.
    await keepShardMapVersion(client, t, name);
    await forgetShardOwners(client, t, name);
    await finishOperations(client, t, { name, kinds: ["delete"], version });
    await enqueueEvent(
      client,
      t,
      databaseDeleted,
      { name, volumesKept: db.keepVolumes },
      { id: eventIds.deleted(name, version), subject: aggregateOf.database(name), correlationId },
    );
  });
}

/** A transient failure: counts it and returns the count (the reconciler gives up at its limit). */
export async function recordAttempt(
  { pool, t }: ProgressContext,
  name: string,
  version: number,
  reason: string,
): Promise<number> {
  const { rows } = await pool.query(
    `UPDATE ${t.databases} SET attempts = attempts + 1, reason = $3, updated_at = now()
     WHERE name = $1 AND version = $2 RETURNING attempts`,
    [name, version, clipReason(reason)],
  );
  return rows[0]?.attempts ?? 0;
}

/** A pass went through without error: the backoff of earlier failures ends. */
export async function clearAttempts({ pool, t }: ProgressContext, name: string, version: number) {
  await pool.query(
    `UPDATE ${t.databases} SET attempts = 0, reason = NULL WHERE name = $1 AND version = $2 AND attempts > 0`,
    [name, version],
  );
}

/** A resync of a ready database found nothing (left) to do. */
export async function recordReconciled({ pool, t }: ProgressContext, name: string, version: number) {
  await pool.query(`UPDATE ${t.databases} SET last_reconciled_at = now() WHERE name = $1 AND version = $2`, [
    name,
    version,
  ]);
}
