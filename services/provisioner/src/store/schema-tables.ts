/** Quoted, schema-qualified table names of the provisioner's schema. */
export interface ProvisionerTables {
  readonly schema: string;
  readonly migrations: string;
  readonly databases: string;
  readonly shards: string;
  readonly operations: string;
  readonly backups: string;
  readonly outbox: string;
}

export function provisionerTables(schema = "provisioner"): ProvisionerTables {
  const q = (table: string) => `"${schema}"."${table}"`;
  return {
    schema,
    migrations: q("schema_migrations"),
    databases: q("databases"),
    shards: q("shards"),
    operations: q("operations"),
    backups: q("backups"),
    outbox: q("outbox"),
  };
}
