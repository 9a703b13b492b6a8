import type { Logger } from "@dbplane/service-kit";
import type pg from "pg";
import type { ShardFailover } from "../drivers/driver.ts";
import { withDatabaseLock } from "../reconcile/database-lock.ts";
import type { Progress } from "../store/progress.ts";
import type { Queries } from "../store/queries.ts";

export interface FailoverWatcherOptions {
  readonly pool: pg.Pool;
  readonly schema: string;
  readonly queries: Queries;
  readonly progress: Progress;
  readonly failover: ShardFailover;
  readonly logger: Logger;
  /** How long a primary must be down before its replica is promoted (DBPLANE_FAILOVER_AFTER_MS). */
  readonly afterMs: number;
  /**
   * The grace instead when the driver knows the primary is dead, not merely silent
   * (DBPLANE_FAILOVER_DEAD_AFTER_MS): nothing can come back to accept writes, so waiting only
   * lengthens the outage.
   */
  readonly deadAfterMs: number;
  /** How often every primary is probed; also the probe's own timeout. */
  readonly probeMs: number;
  /** A failover's outcome, for metrics; `promoted` also means events wait in the outbox. */
  onOutcome(outcome: FailoverMetricOutcome): void;
}

export type FailoverMetricOutcome = "promoted" | "no-replica" | "failed";

export interface FailoverWatcher {
  start(): void;
  stop(): Promise<void>;
}

/**
 * Probes the primary of every shard of every ready database, and fails a shard over once its
 * primary has not answered for `afterMs` — or for `deadAfterMs` when the driver knows it is dead. Every replica of the provisioner probes; the failover
 * itself runs under the database's reconcile lock and checks the primary again, so it happens
 * once. A shard with no replica to promote is reported once per outage (log and metric), not
 * retried in a loop.
 */
export function createFailoverWatcher(options: FailoverWatcherOptions): FailoverWatcher {
  const downSince = new Map<string, number>();
  /** When each primary last answered: an outage began after it, not at the first failed probe. */
  const lastUp = new Map<string, number>();
  const rechecks = new Set<NodeJS.Timeout>();
  const reported = new Set<string>();
  /** Failovers under way, by shard: one at a time each, and never awaited by a probe round. */
  const running = new Map<string, Promise<void>>();
  /** Shards whose failover found the lock taken this outage (said once). */
  const waitedForLock = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<void> | undefined;
  let stopped = false;
  // How long a failover waits for the database's lock (a reconcile pass holding it ends soon
  // once the primary it talks to is gone); then the next probe tries again.
  const lockWaitMs = Math.min(10_000, Math.max(1_000, options.afterMs));
  // A failover still running after this is said to be slow (it cannot be cut short safely: it
  // holds the lock and may be mid-promotion), so a hung step shows in the log.
  const slowMs = Math.max(15_000, 4 * options.afterMs);

  const failOver = async (name: string, shard: number, key: string) => {
    const outcome = await withDatabaseLock(
      options.pool,
      options.schema,
      name,
      async () => {
        const db = await options.queries.database(name);
        // Deleted or changed meanwhile: the reconcile pass owns it now.
        if (db?.state !== "ready") return { kind: "not-ready" as const, state: db?.state };
        return options.failover.failOver(db.spec, shard, options.probeMs);
      },
      lockWaitMs,
    );
    if (!outcome) {
      if (!waitedForLock.has(key)) {
        waitedForLock.add(key);
        options.logger.info(
          { database: name, shard, waitedMs: lockWaitMs },
          "failover waits: the database's lock is held (a reconcile pass); trying again",
        );
      }
      return;
    }
    if (outcome.kind === "not-ready") {
      options.logger.info(
        { database: name, shard, state: outcome.state },
        "no failover: the database is not ready",
      );
      return;
    }
    if (outcome.kind === "not-needed") {
      options.logger.info(
        { database: name, shard },
        "no failover: the shard's primary answers (it came back, or another replica failed it over)",
      );
      return;
    }
    if (outcome.kind === "no-replica") {
      if (!reported.has(key)) {
        reported.add(key);
        options.logger.error(
          { database: name, shard, reason: outcome.reason },
          "primary down and no replica to fail over to",
        );
        options.onOutcome("no-replica");
      }
      return;
    }
    downSince.delete(key);
    const { oldPrimary, newPrimary, lsn, endpoint } = outcome;
    await options.progress.shardFailedOver({ database: name, shard, oldPrimary, newPrimary, lsn, endpoint });
    options.logger.warn({ database: name, shard, oldPrimary, newPrimary, lsn }, "shard failed over");
    options.onOutcome("promoted");
  };

  const probeShard = async (name: string, spec: Parameters<ShardFailover["probe"]>[0], shard: number) => {
    const key = `${name}/${shard}`;
    // Its failover runs: that decides (and probes again first).
    if (running.has(key)) return;
    const state = await options.failover.probe(spec, shard, options.probeMs);
    if (state === "up" || state === "absent") {
      if (downSince.has(key) && state === "up")
        options.logger.info({ database: name, shard }, "primary answers again");
      downSince.delete(key);
      reported.delete(key);
      waitedForLock.delete(key);
      if (state === "up") lastUp.set(key, Date.now());
      return;
    }
    const grace = state === "dead" ? Math.min(options.deadAfterMs, options.afterMs) : options.afterMs;
    if (!downSince.has(key))
      options.logger.warn(
        { database: name, shard, state, failoverInMs: grace },
        "primary not answering; its replica is promoted unless it answers in time",
      );
    // Down since just after it last answered (at most one probe interval before the first miss).
    const since = downSince.get(key) ?? lastUp.get(key) ?? Date.now();
    downSince.set(key, since);
    const left = since + grace - Date.now();
    if (left > 0) {
      // The grace ends between two rounds: probe again right then rather than at the next round.
      if (left < options.probeMs && !stopped) {
        const timer = setTimeout(() => {
          rechecks.delete(timer);
          void probeShard(name, spec, shard).catch((err: unknown) =>
            options.logger.warn({ err, database: name, shard }, "probing a primary failed; will retry"),
          );
        }, left);
        rechecks.add(timer);
      }
      return;
    }
    if (running.has(key) || stopped) return;
    // Not awaited: a probe round waits for no failover (one hung step would stop the probes of
    // every other shard of the fleet).
    const started = Date.now();
    const slow = setTimeout(
      () =>
        options.logger.warn(
          { database: name, shard, runningMs: Date.now() - started },
          "failover still running",
        ),
      slowMs,
    );
    const run = failOver(name, shard, key)
      .catch((err: unknown) => {
        options.logger.error({ err, database: name, shard }, "failover failed; will retry");
        options.onOutcome("failed");
      })
      .finally(() => {
        clearTimeout(slow);
        running.delete(key);
      });
    running.set(key, run);
  };

  const probeAll = async () => {
    try {
      const ready = (await options.queries.databases()).filter((d) => d.state === "ready");
      const shards = await options.queries.shardsOf(ready.map((d) => d.name));
      await Promise.all(
        ready.flatMap((db) =>
          (shards.get(db.name) ?? [])
            .filter((s) => s.state === "ready")
            .map((s) => probeShard(db.name, db.spec, s.shard)),
        ),
      );
    } catch (err) {
      options.logger.warn({ err }, "probing primaries failed; will retry");
    }
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      round = probeAll().finally(schedule);
    }, options.probeMs);
  };

  return {
    start: schedule,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      for (const recheck of rechecks) clearTimeout(recheck);
      await round;
      await Promise.all(running.values());
    },
  };
}
