import pg from "pg";

// The same two statements the collector's PostgreSQL receiver runs on a primary (overview and
// replication), written out here: the baseline is "a plain loop doing the same work directly".
const OVERVIEW = `SELECT d.xact_commit, d.xact_rollback, d.blks_read, d.blks_hit, d.tup_returned, d.tup_fetched,
  d.tup_inserted, d.tup_updated, d.tup_deleted, d.deadlocks, pg_database_size(d.datid) AS size_bytes,
  current_setting('max_connections')::int AS max_connections,
  (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS server_connections,
  (SELECT json_object_agg(coalesce(s.state, 'unknown'), s.n) FROM (SELECT state, count(*) AS n FROM pg_stat_activity
     WHERE datid = d.datid AND backend_type = 'client backend' GROUP BY state) s) AS states,
  (SELECT count(*) FROM pg_locks l WHERE NOT l.granted AND l.database = d.datid) AS locks_waiting,
  (SELECT extract(epoch FROM max(now() - query_start)) FROM pg_stat_activity WHERE datid = d.datid AND state = 'active') AS q,
  (SELECT extract(epoch FROM max(now() - xact_start)) FROM pg_stat_activity WHERE datid = d.datid) AS x,
  pg_is_in_recovery() AS in_recovery
  FROM pg_stat_database d WHERE d.datname = current_database()`;
const REPLICATION = `SELECT count(*), max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), extract(epoch FROM max(replay_lag))
  FROM pg_stat_replication`;

/**
 * Collects every target `rounds` times with `concurrency` loops, keeping at most `maxOpen`
 * clients open (least recently used closed first), like the collector's connection budget.
 * Returns CPU seconds of this process per collection.
 */
export async function baselineCpuPerCollection(
  targets: readonly { url: string }[],
  rounds: number,
  concurrency: number,
  maxOpen: number,
): Promise<{ cpuPerCollection: number; collections: number }> {
  const open = new Map<number, pg.Client>();
  const clientFor = async (i: number) => {
    const existing = open.get(i);
    if (existing) {
      open.delete(i);
      open.set(i, existing);
      return existing;
    }
    const client = new pg.Client({ connectionString: targets[i]!.url, application_name: "bench-baseline" });
    // An idle client ended by the server (another test's DROP … WITH (FORCE)) must not crash the bench.
    client.on("error", () => {});
    await client.connect();
    open.set(i, client);
    while (open.size > maxOpen) {
      const [oldest, c] = open.entries().next().value!;
      open.delete(oldest);
      await c.end();
    }
    return client;
  };
  const work = Array.from({ length: rounds * targets.length }, (_, k) => k % targets.length);
  const started = process.cpuUsage();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < work.length) {
        const i = work[next++]!;
        const client = await clientFor(i);
        await client.query(OVERVIEW);
        await client.query(REPLICATION);
      }
    }),
  );
  const used = process.cpuUsage(started);
  await Promise.all([...open.values()].map((c) => c.end()));
  return { cpuPerCollection: (used.user + used.system) / 1e6 / work.length, collections: work.length };
}
