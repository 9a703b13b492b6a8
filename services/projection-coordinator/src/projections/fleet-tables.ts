import type { ProjectionTables, ProjectionTx } from "@dbplane/projections";

/** The fleet read model: databases (found or provisioned), their shards, health, and apps. */
export async function createFleetTables(tx: ProjectionTx, t: ProjectionTables): Promise<void> {
  await tx.query(`
    CREATE TABLE ${t.table("databases")} (
      id             text PRIMARY KEY,
      name           text NOT NULL,
      origin         text NOT NULL CHECK (origin IN ('discovery', 'provisioner')),
      engine         text NOT NULL DEFAULT 'postgresql',
      endpoint       text,
      dbname         text,
      server_version text,
      managed_by     text,
      state          text NOT NULL,
      reason         text,
      desired_shards integer,
      updated_at     timestamptz NOT NULL
    );
    CREATE TABLE ${t.table("shards")} (
      database        text NOT NULL,
      shard           integer NOT NULL,
      primary_endpoint text,
      replicas        jsonb NOT NULL DEFAULT '[]',
      state           text,
      reason          text,
      tps             double precision,
      connections     integer,
      size_bytes      bigint,
      load_sampled_at timestamptz,
      hot_multiple    double precision,
      hot_at          timestamptz,
      PRIMARY KEY (database, shard)
    );
    CREATE TABLE ${t.table("health")} (
      target     text PRIMARY KEY,
      engine     text NOT NULL,
      state      text NOT NULL,
      reason     text NOT NULL,
      changed_at timestamptz NOT NULL
    );
    CREATE TABLE ${t.table("apps")} (
      id         text PRIMARY KEY,
      name       text NOT NULL,
      workload   jsonb NOT NULL,
      databases  jsonb NOT NULL,
      lost       boolean NOT NULL DEFAULT false,
      updated_at timestamptz NOT NULL
    );
  `);
}
