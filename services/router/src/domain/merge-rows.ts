/** One ORDER BY term the caller states for a scatter query (the shards sort; the router merges). */
export interface OrderTerm {
  readonly column: string;
  readonly direction: "asc" | "desc";
}

type Row = Readonly<Record<string, unknown>>;

const NUMERIC = /^-?\d+(\.\d+)?(e[-+]?\d+)?$/i;
const INTEGER = /^-?\d+$/;

/**
 * Compares two column values the way PostgreSQL would for the common types as `pg` returns them:
 * numbers, numeric/int8 as decimal strings (compared by value, not as text), Dates, booleans, and
 * text (by code point — the merge is only as faithful as a C collation; state it in the docs).
 * NULL sorts last ascending and first descending, as in PostgreSQL.
 */
export function compareValues(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return 1;
  if (b === null || b === undefined) return -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime();
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b);
  const sa = String(a);
  const sb = String(b);
  if (INTEGER.test(sa) && INTEGER.test(sb)) {
    const d = BigInt(sa) - BigInt(sb);
    return d === 0n ? 0 : d < 0n ? -1 : 1;
  }
  if (NUMERIC.test(sa) && NUMERIC.test(sb)) return Number(sa) - Number(sb);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** A comparator over rows for the stated terms; NULLs first when descending, like PostgreSQL. */
export function rowComparator(orderBy: readonly OrderTerm[]): (a: Row, b: Row) => number {
  return (a, b) => {
    for (const term of orderBy) {
      const va = a[term.column];
      const vb = b[term.column];
      let c = compareValues(va, vb);
      if (term.direction === "desc") c = -c;
      if (c !== 0) return c;
    }
    return 0;
  };
}

/**
 * Merges the rows each shard returned into one result: sorted by `orderBy` when given (stable, so
 * rows equal on every term keep shard order), then cut to `limit`.
 */
export function mergeRows(
  perShard: readonly (readonly Row[])[],
  orderBy: readonly OrderTerm[],
  limit?: number,
): Row[] {
  const rows = perShard.flat();
  if (orderBy.length > 0) rows.sort(rowComparator(orderBy));
  return limit === undefined ? rows : rows.slice(0, limit);
}

/** Columns named in `orderBy` that the rows do not have: a caller's typo, reported as 400. */
export function missingOrderColumns(rows: readonly Row[], orderBy: readonly OrderTerm[]): string[] {
  const first = rows[0];
  if (!first) return [];
  return orderBy.filter((t) => !(t.column in first)).map((t) => t.column);
}
