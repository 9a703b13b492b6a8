import { migrateSchema, type SchemaMigration } from "@dbplane/service-kit";
import type pg from "pg";
import { type RouterTables, routerTables } from "./schema-tables.ts";

type Migration = SchemaMigration<RouterTables>;

/** Append only: an applied migration is never edited, a change is a new version. */
const migrations: readonly Migration[] = [
  {
    version: 1,
    name: "shard maps and migrations",
    // IF NOT EXISTS: schemas created before the router recorded its versions already hold these.
    // `json`, not `jsonb`: the document is stored as published, byte for byte.
    sql: (t) => `
      CREATE TABLE IF NOT EXISTS ${t.shardMaps} (
        database   text        NOT NULL,
        version    integer     NOT NULL CHECK (version > 0),
        document   json        NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (database, version)
      );
      CREATE TABLE IF NOT EXISTS ${t.shardMigrations} (
        database   text        NOT NULL,
        id         text        NOT NULL,
        statements jsonb       NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (database, id)
      );`,
  },
];

/**
 * Brings the router's schema up to date; replicas starting together take turns (advisory lock).
 * @returns the versions applied now.
 */
export function migrate(pool: pg.Pool, schema: string): Promise<number[]> {
  return migrateSchema(pool, "router", routerTables(schema), migrations);
}
