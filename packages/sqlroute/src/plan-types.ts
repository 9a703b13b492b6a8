import type { ShardKeyType } from "@dbplane/sharding";

/** A table distributed by a key column, as in create-database's `shardedTables`. */
export interface ShardedTableSpec {
  /** `table` or `schema.table`; an unqualified name means `public.table`. */
  readonly table: string;
  readonly keyColumn: string;
  readonly keyType: ShardKeyType;
}

/** Where a shard key's value comes from: a literal in the SQL, or a bind parameter ($n is index n-1). */
export type KeyExpr =
  | { readonly kind: "const"; readonly value: string }
  | { readonly kind: "param"; readonly index: number };

/** How per-shard rows of a scatter read become the client's rows (see mergeRows). */
export interface MergePlan {
  /** Output columns to sort by, 0-based, in order of precedence. */
  readonly orderBy: readonly { column: number; descending: boolean; nullsFirst: boolean }[];
  readonly limit?: number;
  readonly offset?: number;
  /** LIMIT/OFFSET given as bind parameters (0-based): mergeRows takes the values from its params. */
  readonly limitParam?: number;
  readonly offsetParam?: number;
  /** Aggregate output columns; avg's own column is recomputed from its hidden sum and count columns. */
  readonly aggregates: readonly {
    column: number;
    fn: "count" | "sum" | "min" | "max" | "avg";
    sumColumn?: number;
    countColumn?: number;
  }[];
  /** Output columns (0-based, hidden ones included) that group the rows; empty with aggregates = one row. */
  readonly groupBy: readonly number[];
  readonly distinct: boolean;
  /** Columns the rewrite appended to the select list; dropped from the merged rows. */
  readonly hiddenColumns: number;
}

/** COPY's text/csv format options, as the rows must be split by key. */
export interface CopyFormat {
  readonly format: "text" | "csv" | "binary";
  readonly delimiter: string;
  readonly header: boolean;
  readonly quote: string;
  readonly escape: string;
  readonly null: string;
}

export type KeyedPlan = {
  readonly kind: "keyed";
  readonly keyType: ShardKeyType;
  /** Every key the statement names; more than one (key IN (...)) may span several shards. */
  readonly keys: readonly KeyExpr[];
  readonly write: boolean;
  /** For a read with several keys: how to merge the rows of the shards they name. */
  readonly merge?: MergePlan;
  readonly rewrittenSql?: string;
};

export type InsertSplitPlan = {
  readonly sql: string;
  readonly kind: "insert-split";
  readonly keyType: ShardKeyType;
  readonly table: string;
  /** The key of each VALUES row, in order. */
  readonly rows: readonly KeyExpr[];
  /** Internal to splitInsert: where each row's text sits in `sql` (UTF-8 byte offsets). */
  readonly rowSpans: readonly (readonly [number, number])[];
  /** `sql` before the first row and after the last one, e.g. `INSERT INTO t (a, b) VALUES ` and ` RETURNING id`. */
  readonly prefix: string;
  readonly suffix: string;
};

export type TransactionAction =
  | "begin"
  | "commit"
  | "rollback"
  | "savepoint"
  | "release"
  | "rollback-to"
  | "prepare";

/** The route of one statement. `sql` is the statement's own text, exactly as the client sent it. */
export type StatementPlan = { readonly sql: string } & (
  | KeyedPlan
  | Omit<InsertSplitPlan, "sql">
  | { readonly kind: "scatter"; readonly merge: MergePlan; readonly rewrittenSql: string }
  | { readonly kind: "any" }
  | { readonly kind: "broadcast"; readonly write: true }
  | {
      readonly kind: "scatter-write";
      /**
       * Set for an INSERT whose rows' keys are unknown: on every shard it would copy each row to
       * each shard, so only a shard-key hint can place it — no session setting may scatter it.
       */
      readonly insertRefusal?: { readonly message: string; readonly hint: string };
    }
  | {
      readonly kind: "transaction";
      readonly action: TransactionAction;
      readonly readOnly: boolean;
      /** SAVEPOINT/RELEASE/ROLLBACK TO's name, PREPARE TRANSACTION's id. */
      readonly name?: string;
    }
  | { readonly kind: "set"; readonly name: string; readonly value: string | null; readonly local: boolean }
  | { readonly kind: "refused"; readonly code: string; readonly message: string; readonly hint?: string }
  | {
      readonly kind: "copy-in";
      readonly table: string;
      readonly keyType?: ShardKeyType;
      /** Key column's name, for a sharded table (its index must come from the catalog when `columns` is absent). */
      readonly keyColumn?: string;
      readonly keyColumnIndex?: number;
      readonly columns?: readonly string[];
      readonly copyFormat: CopyFormat;
    }
  | { readonly kind: "copy-out"; readonly sharded: boolean }
  | { readonly kind: "empty" }
);

/** A statement that cannot be planned; `code` is the SQLSTATE the client gets, `position` 1-based as PostgreSQL's. */
export class PlanError extends Error {
  override readonly name = "PlanError";
  readonly code: string;
  readonly position?: number;
  readonly hint?: string;

  constructor(
    code: string,
    message: string,
    options?: { position?: number; hint?: string; cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options?.position !== undefined) this.position = options.position;
    if (options?.hint !== undefined) this.hint = options.hint;
  }
}
