import type { ShardedTableSpec } from "../src/index.ts";

/** pgbench's four tables as the issue shards them, plus a schema-qualified and a text-keyed table. */
export const TABLES: readonly ShardedTableSpec[] = [
  { table: "pgbench_accounts", keyColumn: "aid", keyType: "integer" },
  { table: "pgbench_branches", keyColumn: "bid", keyType: "integer" },
  { table: "pgbench_tellers", keyColumn: "tid", keyType: "integer" },
  { table: "pgbench_history", keyColumn: "aid", keyType: "integer" },
  { table: "shop.orders", keyColumn: "customer", keyType: "text" },
  { table: "events", keyColumn: "id", keyType: "bigint" },
];
