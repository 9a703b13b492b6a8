// What the split's initial copy does on the target, seen from PostgreSQL itself: when the
// subscription appeared and when each table's sync state (pg_subscription_rel) first reached
// `d` (copying), `f`/`s` (copy done) and `r` (ready), and between which polls its COPY ran
// (pg_stat_progress_copy). The phase times the router records include its own steps and polls;
// these separate the copy proper from them.
import type pg from "pg";

export interface TableStates {
  readonly table: string;
  /** First time seen in each state letter, ms since the epoch. */
  readonly firstSeen: Record<string, number>;
  /** First and last poll that saw the table's COPY FROM running (ms since the epoch), if one did. */
  readonly copyRan?: { readonly from: number; readonly to: number };
}

export interface CopyStates {
  /** When the subscription was first seen (ms since the epoch), 0 if never. */
  subscribedAt(): number;
  tables(): TableStates[];
  stop(): Promise<void>;
}

export function watchCopyStates(target: pg.Pool, intervalMs: number): CopyStates {
  let subscribedAt = 0;
  const tables = new Map<string, Record<string, number>>();
  const copies = new Map<string, { from: number; to: number }>();
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      const { rows } = await target.query<{ table: string | null; state: string | null }>(
        `SELECT c.relname AS table, sr.srsubstate::text AS state
           FROM pg_subscription s
           LEFT JOIN pg_subscription_rel sr ON sr.srsubid = s.oid
           LEFT JOIN pg_class c ON c.oid = sr.srrelid
          WHERE s.subname LIKE 'dbplane\\_rs\\_%'
         UNION ALL
         SELECT c.relname, 'COPY' FROM pg_stat_progress_copy p JOIN pg_class c ON c.oid = p.relid
          WHERE p.command = 'COPY FROM'`,
      );
      const now = Date.now();
      if (subscribedAt === 0 && rows.some((r) => r.state !== "COPY")) subscribedAt = now;
      for (const r of rows) {
        if (!r.table || !r.state) continue;
        if (r.state === "COPY") {
          copies.set(r.table, { from: copies.get(r.table)?.from ?? now, to: now });
          continue;
        }
        const seen = tables.get(r.table) ?? {};
        seen[r.state] ??= now;
        tables.set(r.table, seen);
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    subscribedAt: () => subscribedAt,
    tables: () =>
      [...tables].map(([table, firstSeen]) => {
        const copyRan = copies.get(table);
        return copyRan ? { table, firstSeen, copyRan } : { table, firstSeen };
      }),
    async stop() {
      stopping = true;
      await loop;
    },
  };
}

/** When the last table's copy was done (state f, s or r first seen), 0 if not all were seen. */
export function copyDoneAt(tables: readonly TableStates[]): number {
  let last = 0;
  for (const t of tables) {
    const done = Math.min(...["f", "s", "r"].map((s) => t.firstSeen[s] ?? Number.POSITIVE_INFINITY));
    if (!Number.isFinite(done)) return 0;
    last = Math.max(last, done);
  }
  return last;
}
