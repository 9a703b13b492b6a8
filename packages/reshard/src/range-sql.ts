import { KEYSPACE_END, KEYSPACE_MIN, POSTGRES_HASH_FUNCTION } from "@dbplane/sharding";
import pg from "pg";
import type { MovedTable } from "./range-move-spec.ts";

/** `"schema"."name"` or `"name"`: a spec's table name as an identifier PostgreSQL cannot misread. */
export function quotedTable(table: string): string {
  const dot = table.indexOf(".");
  if (dot < 0) return pg.escapeIdentifier(table);
  return `${pg.escapeIdentifier(table.slice(0, dot))}.${pg.escapeIdentifier(table.slice(dot + 1))}`;
}

/** A bigint as SQL: a quoted literal cast, since -2^63 written bare is read as -(2^63) and overflows. */
function bigintLiteral(value: bigint): string {
  return `'${value.toString()}'::bigint`;
}

/**
 * The row filter of `[from, to)` on a sharded table's key, or `null` when the range is the whole
 * keyspace. The hash is the one the router computes (seed 0); a bound at an end of the keyspace is
 * left out — 2^63 does not fit a bigint, and every hash is ≥ -2^63 anyway. Only built-in immutable
 * functions: PostgreSQL 15 accepts it as a publication's WHERE.
 */
export function rangeFilter(table: MovedTable, from: bigint, to: bigint): string | null {
  if (!table.key) return null;
  const hash = `${POSTGRES_HASH_FUNCTION[table.key.type]}(${pg.escapeIdentifier(table.key.column)}, 0)`;
  const bounds: string[] = [];
  if (from > KEYSPACE_MIN) bounds.push(`${hash} >= ${bigintLiteral(from)}`);
  if (to < KEYSPACE_END) bounds.push(`${hash} < ${bigintLiteral(to)}`);
  return bounds.length === 0 ? null : bounds.join(" AND ");
}

/** `WHERE …` selecting the moved rows of `table` (sharded: the range; unsharded: every row), or "". */
export function rangeWhere(table: MovedTable, from: bigint, to: bigint): string {
  const filter = rangeFilter(table, from, to);
  return filter === null ? "" : `WHERE ${filter}`;
}
