import { POSTGRES_HASH_FUNCTION } from "@dbplane/sharding";
import pg from "pg";
import { RangeMoveError } from "./range-move-error.ts";
import type { MovedTable, ShardConnection } from "./range-move-spec.ts";
import { quotedTable, rangeWhere } from "./range-sql.ts";
import { withShard } from "./shard-client.ts";

/**
 * The split point that halves `table`'s rows of `[from, to)` on `source`: one past the lower median
 * of the key hashes, so `[from, at)` keeps ⌈n/2⌉ rows and `[at, to)` takes ⌊n/2⌋ — both non-empty
 * from two rows with distinct hashes on. Below two rows, or when duplicates of the median would
 * leave a side empty, the middle of the range.
 * @throws RangeMoveError INVALID_SPEC for an unsharded table or an empty range
 */
export async function medianSplitPoint(
  source: ShardConnection,
  table: MovedTable,
  from: bigint,
  to: bigint,
): Promise<bigint> {
  if (!table.key)
    throw new RangeMoveError("INVALID_SPEC", `table ${table.table} has no shard key to split by`);
  if (from >= to) throw new RangeMoveError("INVALID_SPEC", `[${from}, ${to}) is an empty range`);
  const key = table.key;
  const middle = from + (to - from) / 2n;
  const { rows } = await withShard(source, (client) =>
    client.query<{ n: string; median: string | null }>(
      `SELECT count(*) AS n, percentile_disc(0.5) WITHIN GROUP (ORDER BY h)::text AS median
         FROM (SELECT ${POSTGRES_HASH_FUNCTION[key.type]}(${pg.escapeIdentifier(key.column)}, 0) AS h
                 FROM ${quotedTable(table.table)} ${rangeWhere(table, from, to)}) AS hashes`,
    ),
  );
  const row = rows[0];
  if (!row || Number(row.n) < 2 || row.median === null) return middle;
  const at = BigInt(row.median) + 1n;
  return at > from && at < to ? at : middle;
}
