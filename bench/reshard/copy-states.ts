// What the split's initial copy does on the target, seen from PostgreSQL itself: when the
// subscription appeared (the move creates it disabled right after the slot, before copying), when
// it was enabled (the copy committed), and between which polls each table's COPY FROM of the
// move's copy connections ran (pg_stat_progress_copy). The phase times the router records include
// its own steps and polls; these separate the copy proper from them.
import type pg from "pg";

export interface TableCopy {
  readonly table: string;
  /** First and last poll that saw one of the table's COPY FROM running (ms since the epoch). */
  readonly from: number;
  readonly to: number;
  /** Most COPY FROM of the table seen running at once (its parts in parallel). */
  readonly streams: number;
}

export interface CopyStates {
  /** When the subscription was first seen (ms since the epoch), 0 if never. */
  subscribedAt(): number;
  /** When it was first seen enabled: the copy done (ms since the epoch), 0 if never. */
  enabledAt(): number;
  tables(): TableCopy[];
  stop(): Promise<void>;
}

export function watchCopyStates(target: pg.Pool, intervalMs: number): CopyStates {
  let subscribedAt = 0;
  let enabledAt = 0;
  const copies = new Map<string, { from: number; to: number; streams: number }>();
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      const { rows } = await target.query<{ table: string; enabled: boolean | null; copies: number }>(
        `SELECT NULL AS table, subenabled AS enabled, 0 AS copies FROM pg_subscription
          WHERE subname LIKE 'dbplane\\_rs\\_%'
         UNION ALL
         SELECT c.relname, NULL, count(*)::int FROM pg_stat_progress_copy p
           JOIN pg_class c ON c.oid = p.relid
           JOIN pg_stat_activity a ON a.pid = p.pid
          WHERE p.command = 'COPY FROM' AND a.application_name LIKE 'dbplane\\_rs\\_%\\_copy'
          GROUP BY c.relname`,
      );
      const now = Date.now();
      for (const r of rows) {
        if (r.table === null) {
          if (subscribedAt === 0) subscribedAt = now;
          if (r.enabled && enabledAt === 0) enabledAt = now;
          continue;
        }
        const seen = copies.get(r.table);
        copies.set(r.table, {
          from: seen?.from ?? now,
          to: now,
          streams: Math.max(seen?.streams ?? 0, r.copies),
        });
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    subscribedAt: () => subscribedAt,
    enabledAt: () => enabledAt,
    tables: () => [...copies].map(([table, c]) => ({ table, ...c })),
    async stop() {
      stopping = true;
      await loop;
    },
  };
}
