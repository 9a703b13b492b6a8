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
  /** Online reshard operations: one row each, its phase the point a resumed runner starts from. */
  readonly reshards: string;
  /** Per database, whether and when hot or big shards are split without a person. */
  readonly autosplitPolicies: string;
  /** Since when a shard has been over an autoSplit threshold (collector samples), per signal. */
  readonly autosplitHeat: string;
}

export function routerTables(schema: string): RouterTables {
  return schemaTables(schema, {
    shardMaps: "shard_maps",
    shardMigrations: "migrations",
    reshards: "reshards",
    autosplitPolicies: "autosplit_policies",
    autosplitHeat: "autosplit_heat",
  });
}
