import { schemaTables } from "@dbplane/service-kit";

/** The router's tables, schema-qualified and quoted, ready to interpolate into SQL. */
export interface RouterTables {
  readonly schema: string;
  /** The applied schema versions (service-kit `migrateSchema`). */
  readonly migrations: string;
  /** Every version of every database's shard map: the source of truth. */
  readonly shardMaps: string;
  /** The migrations the router applied to the shards of a database. */
  readonly shardMigrations: string;
}

export function routerTables(schema: string): RouterTables {
  return schemaTables(schema, { shardMaps: "shard_maps", shardMigrations: "migrations" });
}
