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
  {
    version: 2,
    name: "reshards",
    // One running reshard per database: its shard map changes under one hand at a time.
    sql: (t) => `
      CREATE TABLE ${t.reshards} (
        id               text        PRIMARY KEY,
        database         text        NOT NULL,
        kind             text        NOT NULL,
        source_shard     integer     NOT NULL,
        target_shard     integer,
        target_serves    boolean     NOT NULL DEFAULT false,
        to_shard         integer,
        split_at         text,
        range_from       text,
        range_to         text,
        phase            text        NOT NULL,
        state            text        NOT NULL DEFAULT 'running',
        cancel_requested boolean     NOT NULL DEFAULT false,
        trigger          jsonb       NOT NULL,
        rows_copied      bigint      NOT NULL DEFAULT 0,
        rows_total       bigint      NOT NULL DEFAULT 0,
        lag_bytes        bigint,
        write_pause_ms   integer,
        verification     jsonb,
        map_version      integer,
        attempts         integer     NOT NULL DEFAULT 0,
        error            text,
        owner            text,
        lease_expires_at timestamptz,
        created_at       timestamptz NOT NULL DEFAULT now(),
        updated_at       timestamptz NOT NULL DEFAULT now(),
        finished_at      timestamptz
      );
      CREATE UNIQUE INDEX reshards_one_running ON ${t.reshards} (database) WHERE state = 'running';
      CREATE INDEX reshards_by_database ON ${t.reshards} (database, created_at DESC);`,
  },
  {
    version: 3,
    name: "autosplit",
    sql: (t) => `
      CREATE TABLE ${t.autosplitPolicies} (
        database   text        PRIMARY KEY,
        policy     jsonb       NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE ${t.autosplitHeat} (
        database text        NOT NULL,
        shard    integer     NOT NULL,
        signal   text        NOT NULL,
        since    timestamptz NOT NULL,
        seen     timestamptz NOT NULL,
        PRIMARY KEY (database, shard, signal)
      );`,
  },
  {
    version: 4,
    name: "the shard a reshard had the provisioner add",
    sql: (t) => `
      -- Recorded before add-shard is sent: a reshard that ends before its cut-over removes it again.
      ALTER TABLE ${t.reshards} ADD COLUMN added_shard integer;`,
  },
];

/**
 * Brings the router's schema up to date; replicas starting together take turns (advisory lock).
 * @returns the versions applied now.
 */
export function migrate(pool: pg.Pool, schema: string): Promise<number[]> {
  return migrateSchema(pool, "router", routerTables(schema), migrations);
}
