import pg from "pg";
import type { SeriesValue } from "../domain/metric-catalog.ts";
import {
  type PostgresOverviewRow,
  type PostgresReplicationRow,
  postgresObservation,
  type StatementTotals,
  topStatements,
} from "../domain/postgres-observation.ts";
import { withPassword } from "../domain/target-spec.ts";
import {
  HAS_STATEMENTS_SQL,
  OVERVIEW_SQL,
  PRIMARY_REPLICATION_SQL,
  REPLICA_REPLICATION_SQL,
  STATEMENTS_SQL,
} from "./postgres-queries.ts";
import type { CollectedSample, Receiver } from "./receiver.ts";

/** How often we look again for pg_stat_statements: installing it is rare, the check is not free. */
const STATEMENTS_CHECK_MS = 10 * 60_000;
/** Candidates read from pg_stat_statements per collection; the top-N by delta come from these. */
const STATEMENT_CANDIDATES = 50;

/** PostgreSQL: a small pool per target, statement_timeout on every connection. */
export const postgresReceiver: Receiver = (spec, password, limits, tls) => {
  const pool = new pg.Pool({
    connectionString: withPassword(spec.url, password),
    max: limits.maxConnectionsPerTarget,
    connectionTimeoutMillis: limits.connectTimeoutMs,
    statement_timeout: limits.statementTimeoutMs,
    query_timeout: limits.statementTimeoutMs + 1_000,
    idleTimeoutMillis: 60_000,
    application_name: "dbplane-collector",
    ...(tls && { ssl: { ...tls } }),
  });
  // An idle connection dropped by the server must not crash the process; the next collection reconnects.
  pool.on("error", () => {});
  let statementsCheckedAt = -Infinity;
  let hasStatements = false;
  let previousStatements: Map<string, StatementTotals> | undefined;
  let previousAt = 0;

  async function statementGauges(client: pg.PoolClient, now: number): Promise<SeriesValue[]> {
    if (limits.topStatements === 0) return [];
    if (now - statementsCheckedAt > STATEMENTS_CHECK_MS) {
      hasStatements = (await client.query(HAS_STATEMENTS_SQL)).rowCount === 1;
      statementsCheckedAt = now;
    }
    if (!hasStatements) return [];
    let rows: { queryid: string; calls: string; total_ms: number }[];
    try {
      rows = (await client.query(STATEMENTS_SQL, [STATEMENT_CANDIDATES])).rows;
    } catch {
      // Installed but not in shared_preload_libraries: the view errors; look again later.
      hasStatements = false;
      return [];
    }
    const current = new Map(
      rows.map((r) => [r.queryid, { calls: Number(r.calls), totalTimeMs: Number(r.total_ms) }]),
    );
    const top = previousStatements
      ? topStatements(previousStatements, current, (now - previousAt) / 1000, limits.topStatements)
      : [];
    previousStatements = current;
    previousAt = now;
    return top.flatMap((s) => [
      { metric: "pgStatementCallsRate" as const, labels: { queryid: s.queryid }, value: s.callsPerSecond },
      { metric: "pgStatementTimeRate" as const, labels: { queryid: s.queryid }, value: s.timeRatio },
    ]);
  }

  return {
    async collect(): Promise<CollectedSample> {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        const overview = (await client.query<PostgresOverviewRow>(OVERVIEW_SQL)).rows[0];
        if (!overview) throw new Error("pg_stat_database has no row for the current database");
        const replication = (
          await client.query<PostgresReplicationRow>(
            overview.in_recovery ? REPLICA_REPLICATION_SQL : PRIMARY_REPLICATION_SQL,
          )
        ).rows[0];
        const extraGauges = await statementGauges(client, Date.now());
        return { ...postgresObservation(overview, replication), extraGauges };
      } catch (err) {
        broken = err as Error;
        throw err;
      } finally {
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
};
