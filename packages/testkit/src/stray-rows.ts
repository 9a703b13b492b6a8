import type pg from "pg";

/** A shard's key ranges as the router's API and the map messages give them (decimal strings). */
export interface KeyRangeText {
  readonly from: string;
  readonly to: string;
}

/**
 * How many rows of `table` on the shard `pool` reaches have a key hash (`hash`, an SQL expression
 * such as `hashint8extended(id, 0)`) outside `ranges` — rows the shard holds but does not own.
 */
export async function strayRows(
  pool: pg.Pool,
  table: string,
  hash: string,
  ranges: readonly KeyRangeText[],
): Promise<number> {
  const inside = ranges
    .map((r) =>
      BigInt(r.to) >= 2n ** 63n
        ? `${hash} >= '${r.from}'::bigint`
        : `(${hash} >= '${r.from}'::bigint AND ${hash} < '${r.to}'::bigint)`,
    )
    .join(" OR ");
  const { rows } = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM ${table} WHERE NOT (${inside || "false"})`,
  );
  return Number(rows[0]!.n);
}
