// The data the split moves: two sharded tables (orders by bigint id, accounts by text name) and one
// unsharded table (countries), created through the router's migrations — so the split's
// provisioning applies them to the target — and filled on the source with generate_series.
import type pg from "pg";
import { DB, type SplitWorld } from "./split-world.ts";

export const COUNTRIES = 250;

/** What was loaded: the orders the writer starts its model from. */
export interface ShopData {
  readonly orders: number;
  readonly accounts: number;
  readonly countries: number;
}

/** The order's `amount` as loaded: the writer's model starts from it. */
export const loadedAmount = (id: number) => id % 1000;

export async function createShopTables(w: SplitWorld): Promise<void> {
  const res = await w.call("POST", `/v1/databases/${DB}/migrations`, {
    id: "001-shop",
    statements: [
      "CREATE TABLE orders (id bigint PRIMARY KEY, customer bigint NOT NULL, amount integer NOT NULL, note text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())",
      "CREATE TABLE accounts (name text PRIMARY KEY, balance integer NOT NULL, opened_at timestamptz NOT NULL DEFAULT now())",
      "CREATE TABLE countries (code text PRIMARY KEY, name text NOT NULL)",
    ],
  });
  if (res.status !== 200 || res.body.complete !== true)
    throw new Error(`migration 001-shop: ${res.status} ${JSON.stringify(res.body)}`);
}

/**
 * `rows` rows split evenly between orders and accounts, plus the countries, straight into the
 * shard (all of the keyspace is its own). VACUUM ANALYZE afterwards: the copy pipe and the split
 * then both read settled pages (hint bits set, visibility map current), neither pays for the load.
 */
export async function loadShop(pool: pg.Pool, rows: number): Promise<ShopData> {
  const orders = Math.ceil(rows / 2);
  const accounts = rows - orders;
  await Promise.all([
    pool.query(
      `INSERT INTO orders (id, customer, amount, note)
       SELECT g, g % 50000, g % 1000, 'order ' || g || ' of customer ' || (g % 50000)
         FROM generate_series(1, $1::bigint) g`,
      [orders],
    ),
    pool.query(
      `INSERT INTO accounts (name, balance) SELECT 'acct-' || g, g % 10000 FROM generate_series(1, $1::int) g`,
      [accounts],
    ),
    pool.query(`INSERT INTO countries SELECT 'c' || g, 'country ' || g FROM generate_series(1, $1::int) g`, [
      COUNTRIES,
    ]),
  ]);
  await pool.query("VACUUM ANALYZE orders, accounts, countries");
  await pool.query("CHECKPOINT");
  return { orders, accounts, countries: COUNTRIES };
}

/** The split point the router would choose (one past the lower median of orders' key hashes). */
export async function medianOfOrders(pool: pg.Pool): Promise<bigint> {
  const { rows } = await pool.query<{ median: string }>(
    "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY hashint8extended(id, 0))::text AS median FROM orders",
  );
  return BigInt(rows[0]!.median) + 1n;
}
