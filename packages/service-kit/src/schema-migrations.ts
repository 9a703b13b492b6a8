import type pg from "pg";

/** Where a service's tables live: its schema and the table that records applied versions. */
export interface MigratedTables {
  /** Unquoted schema name. */
  readonly schema: string;
  /** Qualified, quoted name of the applied-versions table, e.g. `"scheduler"."schema_migrations"`. */
  readonly migrations: string;
}

/**
 * A service's tables ready to interpolate into SQL: each of `tables` (key → table name) quoted and
 * qualified with `schema`, plus the schema and its `migrations` table for `migrateSchema`. The
 * schema name is quoted, not escaped: it comes from config or a test.
 */
export function schemaTables<K extends string>(
  schema: string,
  tables: Readonly<Record<K, string>>,
): MigratedTables & Readonly<Record<K, string>> {
  const q = (table: string) => `"${schema}"."${table}"`;
  const qualified = Object.fromEntries(Object.entries<string>(tables).map(([key, table]) => [key, q(table)]));
  return { ...(qualified as Record<K, string>), schema, migrations: q("schema_migrations") };
}

/** One forward-only step of a service's schema; `sql` gets the service's qualified table names. */
export interface SchemaMigration<T extends MigratedTables> {
  readonly version: number;
  readonly name: string;
  readonly sql: (tables: T) => string;
}

/**
 * Brings a service's schema up to date in one transaction. Idempotent, and safe when several
 * replicas start together: the run holds a transaction-scoped advisory lock keyed on the service
 * and the schema, so one replica migrates while the others wait, then find nothing left to do.
 * @returns the versions this call applied (empty when already current).
 */
export async function migrateSchema<T extends MigratedTables>(
  pool: pg.Pool,
  service: string,
  tables: T,
  migrations: readonly SchemaMigration<T>[],
): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    // A migration may rightly run long (an index on a big table) and the replicas behind it
    // wait for the lock: the pool's per-statement limits are for ordinary work, not this.
    await client.query("SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0");
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))", [
      `dbplane.${service}.migrate`,
      tables.schema,
    ]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${tables.schema}"`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${tables.migrations} (
         version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${tables.migrations}`);
    const applied = new Set(rows.map((r) => r.version));
    const done: number[] = [];
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      await client.query(m.sql(tables));
      await client.query(`INSERT INTO ${tables.migrations} (version, name) VALUES ($1, $2)`, [
        m.version,
        m.name,
      ]);
      done.push(m.version);
    }
    await client.query("COMMIT");
    return done;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
