import type pg from "pg";
import type { RangeMoveSpec } from "./range-move-spec.ts";
import { quotedTable } from "./range-sql.ts";

/** One table's part of {@link MoveProgress}. */
export interface TableProgress {
  readonly table: string;
  /** `replicating` once PostgreSQL marked the table ready (copy done, caught up with the stream). */
  readonly state: "copying" | "replicating";
  readonly rowsCopied: number;
}

/** What progress() reports. */
export interface MoveProgress {
  readonly tables: TableProgress[];
  readonly rowsCopied: number;
  readonly rowsTotal: number;
  readonly lagBytes: number;
  /** false before start() made the subscription and after finish() dropped it. */
  readonly subscribed: boolean;
  /**
   * Times the target's apply and table-sync workers failed (pg_stat_subscription_stats): PostgreSQL
   * retries forever, so a move stuck on, say, a key conflict shows only here and in the target's log.
   */
  readonly errors: { readonly apply: number; readonly sync: number };
}

interface SyncRow {
  readonly table: string;
  readonly state: string | null;
  readonly copied: string | null;
}

/**
 * Each table's sync state (pg_subscription_rel) and, while its COPY runs, the rows it took so far
 * (pg_stat_progress_copy of the table-sync worker). A table past its copy counts its start-time
 * total: recounting it would scan the table on every poll.
 */
export async function tableProgress(
  target: pg.Client,
  name: string,
  spec: RangeMoveSpec,
  rowsTotal: Readonly<Record<string, number>>,
): Promise<TableProgress[]> {
  const { rows } = await target.query<SyncRow>(
    `SELECT u.table, sr.srsubstate::text AS state, p.tuples_processed::text AS copied
       FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u("table", quoted, position)
       LEFT JOIN pg_subscription s
              ON s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
       LEFT JOIN pg_subscription_rel sr ON sr.srsubid = s.oid AND sr.srrelid = to_regclass(u.quoted)
       LEFT JOIN pg_stat_progress_copy p ON p.relid = sr.srrelid AND p.datid = s.subdbid
      ORDER BY u.position`,
    [name, spec.tables.map((t) => t.table), spec.tables.map((t) => quotedTable(t.table))],
  );
  return rows.map((r) => {
    // i: init, d: copying; f (copied), s (synced) and r (ready) are past the copy.
    const copyDone = r.state === "f" || r.state === "s" || r.state === "r";
    return {
      table: r.table,
      state: r.state === "r" ? "replicating" : "copying",
      rowsCopied: copyDone ? (rowsTotal[r.table] ?? 0) : Number(r.copied ?? 0),
    };
  });
}

/** Bytes of WAL the source wrote that the target has not confirmed; 0 without a slot. */
export async function lagBytes(source: pg.Client, name: string): Promise<number> {
  const { rows } = await source.query<{ lag: string | null }>(
    `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text AS lag
       FROM pg_replication_slots WHERE slot_name = $1`,
    [name],
  );
  return Math.max(0, Number(rows[0]?.lag ?? 0));
}

/** The subscription's error counters; zero without a subscription. */
export async function subscriptionErrors(target: pg.Client, name: string): Promise<MoveProgress["errors"]> {
  const { rows } = await target.query<{ apply: number; sync: number }>(
    `SELECT apply_error_count::int AS apply, sync_error_count::int AS sync
       FROM pg_stat_subscription_stats WHERE subname = $1`,
    [name],
  );
  return rows[0] ?? { apply: 0, sync: 0 };
}
