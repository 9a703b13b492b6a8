/** One round trip for everything about the database and its server that is not replication. */
export const OVERVIEW_SQL = `
SELECT d.xact_commit, d.xact_rollback, d.blks_read, d.blks_hit,
       d.tup_returned, d.tup_fetched, d.tup_inserted, d.tup_updated, d.tup_deleted, d.deadlocks,
       extract(epoch FROM d.stats_reset)::text AS stats_reset,
       extract(epoch FROM pg_postmaster_start_time())::text AS postmaster_start,
       pg_database_size(d.datid) AS size_bytes,
       current_setting('max_connections')::int AS max_connections,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS server_connections,
       (SELECT json_object_agg(coalesce(s.state, 'unknown'), s.n)
          FROM (SELECT state, count(*) AS n FROM pg_stat_activity
                 WHERE datid = d.datid AND backend_type = 'client backend' AND pid <> pg_backend_pid()
                 GROUP BY state) s) AS states,
       (SELECT count(*) FROM pg_locks l WHERE NOT l.granted AND l.database = d.datid) AS locks_waiting,
       (SELECT extract(epoch FROM max(now() - query_start)) FROM pg_stat_activity
         WHERE datid = d.datid AND state = 'active' AND pid <> pg_backend_pid()) AS longest_query_s,
       (SELECT extract(epoch FROM max(now() - xact_start)) FROM pg_stat_activity
         WHERE datid = d.datid AND pid <> pg_backend_pid()) AS longest_xact_s,
       pg_is_in_recovery() AS in_recovery
  FROM pg_stat_database d
 WHERE d.datname = current_database()`;

/** On a primary: its replicas and the worst replay lag among them. */
export const PRIMARY_REPLICATION_SQL = `
SELECT count(*) AS replicas,
       max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)) AS lag_bytes,
       extract(epoch FROM max(replay_lag)) AS lag_s
  FROM pg_stat_replication`;

/**
 * On a replica: WAL received but not yet replayed, and — while anything is unreplayed — the age
 * of the last replayed commit (an idle primary sends no commits, so an age alone is not lag).
 */
export const REPLICA_REPLICATION_SQL = `
SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) AS lag_bytes,
       -- After a restart the receiver streams from its segment's start, behind what was replayed.
       CASE WHEN pg_last_wal_receive_lsn() IS NULL OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn()
            THEN 0
            -- Nothing replayed since the server started: behind at least since then.
            ELSE extract(epoch FROM now() - coalesce(pg_last_xact_replay_timestamp(), pg_postmaster_start_time()))
       END AS lag_s,
       EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') AS streaming`;

export const HAS_STATEMENTS_SQL = `SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'`;

/** The statements of this database with the most total time: candidates for the top-N by delta. */
export const STATEMENTS_SQL = `
SELECT queryid::text AS queryid, calls, total_exec_time AS total_ms
  FROM pg_stat_statements
 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND queryid IS NOT NULL
 ORDER BY total_exec_time DESC
 LIMIT $1`;
