import type { ShardKeyType } from "@dbplane/sharding";
import type { RangeVar } from "libpg-query";
import type { ShardedTableSpec } from "./plan-types.ts";

/** A sharded table as the statement names it. */
export interface ShardedTable {
  /** `schema.table` as PostgreSQL stores the names. */
  readonly qualifiedName: string;
  readonly keyColumn: string;
  readonly keyType: ShardKeyType;
}

/**
 * The sharded tables by name. The spec's names are unquoted identifiers, so PostgreSQL folds them
 * to lower case; the parser already folded the statement's unquoted names and kept quoted ones
 * as written, so `"Accounts"` does not name a table declared as `accounts`. An unqualified name
 * is taken to mean `public` (the default search_path of the application role).
 */
export class ShardedTableCatalog {
  private readonly byName = new Map<string, ShardedTable>();

  constructor(specs: readonly ShardedTableSpec[]) {
    for (const spec of specs) {
      const parts = spec.table.toLowerCase().split(".");
      const [schema, table] = parts.length === 2 ? parts : ["public", parts[0]];
      const qualifiedName = `${schema}.${table}`;
      this.byName.set(qualifiedName, {
        qualifiedName,
        keyColumn: spec.keyColumn.toLowerCase(),
        keyType: spec.keyType,
      });
    }
  }

  get size(): number {
    return this.byName.size;
  }

  lookup(relation: RangeVar): ShardedTable | undefined {
    if (relation.relname === undefined || this.byName.size === 0) return undefined;
    return this.byName.get(`${relation.schemaname ?? "public"}.${relation.relname}`);
  }
}
