import { migrateSchema, type SchemaMigration } from "@dbplane/service-kit";
import type pg from "pg";
import { type ProvisionerTables, provisionerTables } from "./schema-tables.ts";

type Migration = SchemaMigration<ProvisionerTables>;

/** Append only: an applied migration is never edited, a change is a new version. */
const migrations: readonly Migration[] = [
  {
    version: 1,
    name: "databases, shards, operations, backups, outbox",
    sql: (t) => `
      CREATE TABLE ${t.databases} (
        name               text PRIMARY KEY,
        -- What the create request asked for (idempotency and 409 compare against this).
        requested_spec     jsonb NOT NULL,
        -- The desired state now: requested_spec plus added shards and scaled replicas.
        spec               jsonb NOT NULL,
        -- Increases with every accepted change; survives delete and re-create of the name.
        version            integer NOT NULL,
        state              text NOT NULL CHECK (state IN ('requested','provisioning','ready','failed','deleting','deleted')),
        reason             text,
        keep_volumes       boolean NOT NULL DEFAULT true,
        attempts           integer NOT NULL DEFAULT 0,
        operation_id       text NOT NULL,
        last_reconciled_at timestamptz,
        created_at         timestamptz NOT NULL DEFAULT now(),
        updated_at         timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX databases_active_idx ON ${t.databases} (updated_at)
        WHERE state IN ('requested','provisioning','deleting');

      CREATE TABLE ${t.shards} (
        database      text NOT NULL REFERENCES ${t.databases} (name) ON DELETE CASCADE,
        shard         integer NOT NULL,
        replicas      integer NOT NULL,
        state         text NOT NULL CHECK (state IN ('provisioning','ready','failed','deleting','deleted')),
        -- How to reach it (shardEndpoint without the password, which never leaves the driver).
        endpoint      jsonb,
        reason        text,
        -- The database version whose shard.ready was emitted for this shard.
        ready_version integer,
        updated_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (database, shard)
      );

      CREATE TABLE ${t.operations} (
        id             text PRIMARY KEY,
        kind           text NOT NULL,
        database       text NOT NULL,
        target_version integer,
        backup_id      text,
        state          text NOT NULL CHECK (state IN ('pending','succeeded','failed')),
        error          text,
        created_at     timestamptz NOT NULL DEFAULT now(),
        finished_at    timestamptz
      );
      CREATE INDEX operations_pending_idx ON ${t.operations} (database) WHERE state = 'pending';

      CREATE TABLE ${t.backups} (
        database     text NOT NULL,
        backup_id    text NOT NULL,
        shard        integer NOT NULL,
        state        text NOT NULL CHECK (state IN ('pending','completed','failed')),
        location     text,
        bytes        bigint,
        reason       text,
        operation_id text,
        started_at   timestamptz,
        completed_at timestamptz,
        PRIMARY KEY (database, backup_id, shard)
      );
      CREATE INDEX backups_pending_idx ON ${t.backups} (database) WHERE state = 'pending';

      -- Transactional outbox: an event is written with the state change that causes it and
      -- published afterwards, so a crash in between delays it but never loses it.
      CREATE TABLE ${t.outbox} (
        seq            bigserial PRIMARY KEY,
        type           text NOT NULL,
        msg_id         text NOT NULL,
        subject        text NOT NULL,
        data           jsonb NOT NULL,
        correlation_id text,
        created_at     timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 2,
    name: "application role announced with database.ready",
    sql: (t) => `
      -- The application role (references only) the last database.ready announced; NULL for a
      -- database made ready before application roles existed, which is then announced again.
      ALTER TABLE ${t.databases} ADD COLUMN application jsonb;
    `,
  },
  {
    version: 3,
    name: "which shards own ranges, from the router's shard-map.published",
    sql: (t) => `
      -- The router owns the shard map; the provisioner keeps only which shards the newest map it
      -- has seen gives a range, so it never removes a shard that serves keys.
      CREATE TABLE ${t.shardOwners} (
        database   text PRIMARY KEY,
        map_version integer NOT NULL,
        owners     integer[] NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 4,
    name: "WAL range of physical backups",
    sql: (t) => `
      -- A physical backup's WAL range (NULL for a logical dump): with the archived WAL after it,
      -- the backup restores to any later moment.
      ALTER TABLE ${t.backups} ADD COLUMN start_lsn pg_lsn, ADD COLUMN stop_lsn pg_lsn;
    `,
  },
  {
    version: 5,
    name: "history of the router's shard maps, kept after a delete",
    sql: (t) => `
      -- Every version of a database's shard map the router published, from when (the event's
      -- time): a restore to a moment makes its database with the ranges then in force. Kept when
      -- the database is deleted (its backups are); forgotten when the name is made again. ranges
      -- NULL: only the version is known (the one in force at a delete, seen before this table).
      CREATE TABLE ${t.shardMaps} (
        database      text NOT NULL,
        version       integer NOT NULL,
        ranges        jsonb,
        in_force_from timestamptz NOT NULL,
        PRIMARY KEY (database, version)
      );
    `,
  },
  {
    version: 6,
    name: "shard map version per backup",
    sql: (t) => `
      -- The shard map version in force when a shard's backup completed (NULL: none seen, or a
      -- backup from before this column): a restore from it knows its map when none came since.
      ALTER TABLE ${t.backups} ADD COLUMN map_version integer;
    `,
  },
  {
    version: 7,
    name: "shard count of a backup of every shard",
    sql: (t) => `
      -- How many shards a backup of every shard covered (NULL: a one-shard backup, or one from
      -- before this column): a backup from before a split or a shard removal is complete with the
      -- shards of its day, not of today.
      ALTER TABLE ${t.backups} ADD COLUMN of_shards integer;
    `,
  },
  {
    version: 8,
    name: "incarnation of a database's name",
    sql: (t) => `
      -- How many times the name was made: 1 at the first create, one more at each create of a
      -- deleted name (a failed create retried is the same one). A driver keeps each one's archive
      -- apart (CloudNativePG: the object store's serverName), so a database made again never
      -- archives into the WAL of the one deleted before it.
      ALTER TABLE ${t.databases} ADD COLUMN incarnation integer NOT NULL DEFAULT 1;
    `,
  },
];

/**
 * Brings the provisioner's schema up to date. Idempotent and safe when replicas start together:
 * a transaction-scoped advisory lock lets one migrate while the others wait.
 */
export async function migrate(pool: pg.Pool, schema?: string): Promise<number[]> {
  return migrateSchema(pool, "provisioner", provisionerTables(schema), migrations);
}
