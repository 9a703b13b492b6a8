import type pg from "pg";
import { RangeMoveError } from "./range-move-error.ts";
import type { MovedTable, RangeMoveSpec } from "./range-move-spec.ts";
import { quotedTable, rangeWhere } from "./range-sql.ts";

interface TableShape {
  readonly replident: "d" | "n" | "f" | "i";
  readonly columns: string[];
  /** Columns of the primary key (replident d) or the replica-identity index (i); null for none. */
  readonly identity: string[] | null;
}

async function tableShape(client: pg.Client, table: string): Promise<TableShape | undefined> {
  const { rows } = await client.query<TableShape>(
    `SELECT c.relreplident AS replident,
            ARRAY(SELECT a.attname::text FROM pg_attribute a
                   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
            (SELECT array_agg(a.attname::text) FROM pg_index i
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
              WHERE i.indrelid = c.oid
                AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident))
            ) AS identity
       FROM pg_class c
      WHERE c.oid = to_regclass($1) AND c.relkind = 'r'`,
    [quotedTable(table)],
  );
  return rows[0];
}

/**
 * Each table exists on `side` with a replica identity that covers its shard key: without one, an
 * UPDATE or DELETE on the source cannot be published (PostgreSQL then refuses the application's
 * write), and with a row filter on a column outside it, neither can the filter be evaluated.
 */
async function checkTables(client: pg.Client, side: "source" | "target", tables: readonly MovedTable[]) {
  for (const t of tables) {
    const shape = await tableShape(client, t.table);
    if (!shape) {
      throw new RangeMoveError(
        "TABLE_MISSING",
        `table ${t.table} does not exist on the ${side} (or is not a plain table)`,
      );
    }
    if (t.key && !shape.columns.includes(t.key.column)) {
      throw new RangeMoveError(
        "KEY_MISSING",
        `table ${t.table} on the ${side} has no column ${t.key.column}`,
      );
    }
    if (shape.replident === "f") continue;
    if (shape.replident === "n" || shape.identity === null) {
      throw new RangeMoveError(
        "NO_REPLICA_IDENTITY",
        `table ${t.table} on the ${side} has neither a primary key nor a replica identity`,
      );
    }
    if (t.key && !shape.identity.includes(t.key.column)) {
      throw new RangeMoveError(
        "NO_REPLICA_IDENTITY",
        `shard key ${t.key.column} of table ${t.table} on the ${side} is not part of its primary key/replica identity`,
      );
    }
  }
}

/** wal_level=logical and every table replicable. */
export async function checkSource(client: pg.Client, spec: RangeMoveSpec): Promise<void> {
  const { rows } = await client.query<{ wal_level: string }>("SHOW wal_level");
  const level = rows[0]?.wal_level;
  if (level !== "logical") {
    throw new RangeMoveError(
      "WAL_LEVEL",
      `the source's wal_level is ${level}; logical replication needs logical`,
    );
  }
  await checkTables(client, "source", spec.tables);
}

/** Every table exists and can apply updates/deletes by key. */
export async function checkTarget(client: pg.Client, spec: RangeMoveSpec): Promise<void> {
  await checkTables(client, "target", spec.tables);
}

/** The copy would collide with rows already in the range (or, unsharded, in the table) on the target. */
export async function assertTargetEmpty(client: pg.Client, spec: RangeMoveSpec): Promise<void> {
  for (const t of spec.tables) {
    const { rows } = await client.query<{ found: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM ${quotedTable(t.table)} ${rangeWhere(t, spec.from, spec.to)}) AS found`,
    );
    if (rows[0]?.found) {
      throw new RangeMoveError(
        "TARGET_NOT_EMPTY",
        `table ${t.table} on the target already holds rows of the range`,
      );
    }
  }
}
