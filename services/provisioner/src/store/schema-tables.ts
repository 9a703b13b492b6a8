import { schemaTables } from "@dbplane/service-kit";

/** Quoted, schema-qualified table names of the provisioner's schema. */
export interface ProvisionerTables {
  readonly schema: string;
  readonly migrations: string;
  readonly databases: string;
  readonly shards: string;
  readonly operations: string;
  readonly backups: string;
  readonly outbox: string;
  readonly shardOwners: string;
  readonly shardMaps: string;
}

export function provisionerTables(schema = "provisioner"): ProvisionerTables {
  return schemaTables(schema, {
    databases: "databases",
    shards: "shards",
    operations: "operations",
    backups: "backups",
    outbox: "outbox",
    shardOwners: "shard_owners",
    shardMaps: "shard_maps",
  });
}
