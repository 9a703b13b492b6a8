import type pg from "pg";

/** One table's part of {@link MoveProgress}. */
export interface TableProgress {
  readonly table: string;
  /** `replicating` once the initial copy committed and the subscription streams from the slot. */
  readonly state: "copying" | "replicating";
  /** Rows the copy's stream carried so far. */
  readonly rowsCopied: number;
  /** The planner's estimate of the range's rows while copying; the rows copied once done. */
  readonly rowsTotal: number;
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
