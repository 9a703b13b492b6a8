import type pg from "pg";
import type { MovedTable } from "./range-move-spec.ts";
import { quotedTable } from "./range-sql.ts";

/** A sequence a moved table's column draws from, and the next value the target's now hands out. */
export interface SyncedSequence {
  readonly table: string;
  readonly column: string;
  readonly next: string;
}

/** The sequences owned by the table's columns (serial and identity), by qualified name. */
async function ownedSequences(
  client: pg.Client,
  table: string,
): Promise<{ column: string; sequence: string }[]> {
  const { rows } = await client.query<{ column: string; sequence: string }>(
    `SELECT a.attname::text AS column, pg_get_serial_sequence($1, a.attname) AS sequence
       FROM pg_attribute a
      WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
        AND pg_get_serial_sequence($1, a.attname) IS NOT NULL`,
    [quotedTable(table)],
  );
  return rows;
}

/**
 * Moves each owned (ascending) sequence of the target forward to the source's position, never back. Logical
 * replication copies rows, not sequences: without this, the target's first default value would
 * repeat a key the copy brought over.
 */
export async function syncSequences(
  source: pg.Client,
  target: pg.Client,
  tables: readonly MovedTable[],
): Promise<SyncedSequence[]> {
  const synced: SyncedSequence[] = [];
  for (const t of tables) {
    const targetSequences = new Map(
      (await ownedSequences(target, t.table)).map((s) => [s.column, s.sequence] as const),
    );
    for (const { column, sequence } of await ownedSequences(source, t.table)) {
      const onTarget = targetSequences.get(column);
      if (!onTarget) continue;
      // The names come from pg_get_serial_sequence: qualified and quoted by PostgreSQL. Compared by
      // the next value each would hand out, so a sequence set with is_called = false is read right.
      const next = "(CASE WHEN s.is_called THEN s.last_value + 1 ELSE s.last_value END)";
      const { rows } = await source.query<{ next: string }>(
        `SELECT ${next}::text AS next FROM ${sequence} AS s`,
      );
      const moved = await target.query<{ next: string }>(
        `SELECT (CASE WHEN ${next} >= $1::bigint THEN ${next}
                      ELSE setval($2::regclass, $1::bigint, false) END)::text AS next
           FROM ${onTarget} AS s`,
        [rows[0]!.next, onTarget],
      );
      synced.push({ table: t.table, column, next: moved.rows[0]!.next });
    }
  }
  return synced;
}
