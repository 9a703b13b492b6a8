// After the split: the shards' rows against the writer's model. Lost: a committed order missing
// or holding another amount, an account or country missing. Duplicated: an order on two shards,
// an order the writer deleted or never wrote, more accounts than were loaded. Stray: rows on a
// shard whose ranges do not hold their key's hash.
import { strayRows } from "@dbplane/testkit";
import type pg from "pg";

export interface RowsCheck {
  readonly missing: number;
  readonly wrongValue: number;
  readonly onTwoShards: number;
  /** Orders present that the model does not have (deleted, or never committed). */
  readonly unexpected: number;
  readonly accountsDelta: number;
  readonly countriesOnTarget: number;
  readonly stray: number;
  readonly lost: number;
  readonly duplicated: number;
}

export interface ShardRanges {
  readonly shard: number;
  readonly ranges: readonly { from: string; to: string }[];
}

export async function checkRows(
  pools: readonly pg.Pool[],
  map: readonly ShardRanges[],
  model: ReadonlyMap<number, number>,
  expected: { accounts: number; countries: number; target: number },
): Promise<RowsCheck> {
  const seen = new Map<number, number>();
  let onTwoShards = 0;
  let stray = 0;
  let accounts = 0;
  for (const s of map) {
    const pool = pools[s.shard]!;
    // Read as text pairs: a 64-bit id fits a JS number here (ids stay far below 2^53).
    const { rows } = await pool.query<{ id: string; amount: number }>(
      "SELECT id::text AS id, amount FROM orders",
    );
    for (const r of rows) {
      const id = Number(r.id);
      if (seen.has(id)) onTwoShards++;
      seen.set(id, r.amount);
    }
    stray += await strayRows(pool, "orders", "hashint8extended(id, 0)", s.ranges);
    stray += await strayRows(pool, "accounts", "hashtextextended(name, 0)", s.ranges);
    accounts += Number((await pool.query<{ n: string }>("SELECT count(*) AS n FROM accounts")).rows[0]!.n);
  }
  let missing = 0;
  let wrongValue = 0;
  for (const [id, amount] of model) {
    const got = seen.get(id);
    if (got === undefined) missing++;
    else if (got !== amount) wrongValue++;
  }
  let unexpected = 0;
  for (const id of seen.keys()) if (!model.has(id)) unexpected++;
  const countriesOnTarget = Number(
    (await pools[expected.target]!.query<{ n: string }>("SELECT count(*) AS n FROM countries")).rows[0]!.n,
  );
  const accountsDelta = accounts - expected.accounts;
  return {
    missing,
    wrongValue,
    onTwoShards,
    unexpected,
    accountsDelta,
    countriesOnTarget,
    stray,
    lost:
      missing +
      wrongValue +
      Math.max(0, -accountsDelta) +
      Math.max(0, expected.countries - countriesOnTarget),
    duplicated: onTwoShards + unexpected + Math.max(0, accountsDelta),
  };
}
