import type { Logger } from "@dbplane/service-kit";
import type { ServerPool } from "./server-pool.ts";
import type { ServerPoolRegistry } from "./server-pool-registry.ts";
import { withServerSession } from "./server-session.ts";

// Zero when the replica has replayed all it received (an idle primary sends nothing, and the
// last replay timestamp would otherwise grow forever); else the age of the last replayed commit.
const REPLICA_PROBE = `
  SELECT pg_is_in_recovery() AS in_recovery,
         CASE WHEN NOT pg_is_in_recovery() THEN 0
              WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
              ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) * 1000, 0)
         END::float8 AS lag_ms`;

/**
 * Probes every shard server this replica uses, every `intervalMs`: the primary with `SELECT 1`,
 * replicas with their recovery state and replay lag. Probes run through the same pools as the
 * queries, so a probe also proves a connection can be had. Each probe has a deadline
 * (`probeTimeoutMs`): a server behind a half-open socket is marked down by it, and the round —
 * every other server's health with it — never waits longer than that.
 */
export class HealthMonitor {
  readonly #pools: ServerPoolRegistry;
  readonly #intervalMs: number;
  readonly #probeTimeoutMs: number;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();

  constructor(pools: ServerPoolRegistry, intervalMs: number, probeTimeoutMs: number, logger: Logger) {
    this.#pools = pools;
    this.#intervalMs = intervalMs;
    this.#probeTimeoutMs = probeTimeoutMs;
    this.#logger = logger;
  }

  start(): void {
    const tick = () => {
      this.#running = this.probeAll().finally(() => {
        if (this.#timer !== undefined) this.#timer = setTimeout(tick, this.#intervalMs).unref();
      });
    };
    this.#timer = setTimeout(tick, 0).unref();
  }

  async probeAll(): Promise<void> {
    await Promise.all(this.#pools.all().map((p) => this.probe(p)));
  }

  async probe(server: ServerPool): Promise<void> {
    if (server.unusable !== undefined) return;
    const before = server.health.status;
    try {
      const res = await withServerSession(
        server.pool,
        server.address,
        { deadlineMs: this.#probeTimeoutMs, callerSql: false },
        (session) =>
          session.run((client) => client.query<{ in_recovery: boolean; lag_ms: number }>(REPLICA_PROBE)),
      );
      const row = res.rows[0];
      server.health.inRecovery = row?.in_recovery;
      server.markUp(row?.lag_ms ?? 0);
    } catch (err) {
      server.markDown((err as Error).message);
    }
    if (before !== server.health.status) {
      this.#logger.info(
        {
          server: `${server.address.host}:${server.address.port}/${server.address.dbname}`,
          status: server.health.status,
          error: server.health.error,
        },
        "shard server health changed",
      );
    }
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
