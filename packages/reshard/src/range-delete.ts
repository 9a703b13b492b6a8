import type pg from "pg";
import type { MovedTable } from "./range-move-spec.ts";
import { quotedTable, rangeWhere } from "./range-sql.ts";

/** Rows per DELETE: each batch is its own short transaction, so locks and WAL bursts stay small. */
export const DELETE_BATCH_ROWS = 5_000;

/**
 * Deletes `table`'s rows (sharded: of the range; unsharded: all) in batches picked by ctid, each
 * batch its own transaction. The batches walk the heap forward from the last deleted ctid (a TID
 * range scan), so no batch rescans the dead rows of the ones before; a last pass from the start
 * finds anything a concurrent update moved behind the cursor. Returns the rows deleted.
 */
export async function deleteRange(
  client: pg.Client,
  table: MovedTable,
  from: bigint,
  to: bigint,
  onBatch: (deleted: number) => void,
): Promise<number> {
  const name = quotedTable(table.table);
  const where = rangeWhere(table, from, to);
  const filter = where === "" ? "TRUE" : where.slice("WHERE ".length);
  let total = 0;
  for (let pass = 0; pass < 2; pass++) {
    let after = "(0,0)";
    let sawRows = false;
    for (;;) {
      const { rows } = await client.query<{ n: string; last: string | null }>(
        `WITH gone AS (
           DELETE FROM ${name} WHERE ctid = ANY (ARRAY(
             SELECT ctid FROM ${name} WHERE ctid > $1::tid AND (${filter}) LIMIT ${DELETE_BATCH_ROWS}))
           RETURNING ctid)
         SELECT count(*) AS n, max(ctid)::text AS last FROM gone`,
        [after],
      );
      const n = Number(rows[0]!.n);
      if (n === 0 || rows[0]!.last === null) break;
      sawRows = true;
      total += n;
      after = rows[0]!.last;
      onBatch(total);
    }
    if (pass === 0 && !sawRows) break;
  }
  return total;
}
