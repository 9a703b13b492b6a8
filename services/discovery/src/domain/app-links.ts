import type { ConfiguredUse } from "./app-settings.ts";
import type { Workload } from "./cluster-objects.ts";
import type { DatabaseRecord, DatabaseUse } from "./inventory-types.ts";
import { POSTGRES_PORT } from "./server-workloads.ts";
import { serviceForHost } from "./service-dns.ts";

interface Reached {
  readonly database: DatabaseRecord;
  readonly role: "primary" | "replica" | "any";
  readonly port: number;
}

/** The discovered databases by the Services and host names that reach them. */
export interface DatabaseDirectory {
  readonly clusterDomain: string;
  readonly byService: ReadonlyMap<string, Reached>;
  readonly byHost: ReadonlyMap<string, Reached>;
}

export function databaseDirectory(
  databases: readonly DatabaseRecord[],
  clusterDomain: string,
): DatabaseDirectory {
  const byService = new Map<string, Reached>();
  const byHost = new Map<string, Reached>();
  for (const database of databases) {
    for (const address of database.addresses ?? []) {
      const reached = { database, role: address.role, port: address.port };
      if (address.service && database.workload) {
        const key = `${database.workload.namespace}/${address.service}`;
        if (!byService.has(key)) byService.set(key, reached);
      }
      if (!byHost.has(address.host)) byHost.set(address.host, reached);
    }
    if (!byHost.has(database.endpoint.host))
      byHost.set(database.endpoint.host, { database, role: "any", port: database.endpoint.port });
  }
  return { clusterDomain, byService, byHost };
}

/** Resolves one configured connection to a discovered database, or marks it external or unknown. */
export function linkUse(use: ConfiguredUse, workload: Workload, directory: DatabaseDirectory): DatabaseUse {
  const common = { via: use.via, variable: use.variable };
  if (!use.hint?.host) return { ...common, target: "unknown" };
  const host = use.hint.host;
  const service = serviceForHost(host, workload.namespace, directory.clusterDomain);
  const found =
    (service && directory.byService.get(`${service.namespace}/${service.name}`)) ??
    directory.byHost.get(host);
  const endpoint = { host, port: use.hint.port ?? found?.port ?? POSTGRES_PORT };
  const dbname = use.hint.dbname;
  if (!found) return { ...common, endpoint, ...(dbname && { dbname }), target: "external" };
  return {
    ...common,
    databaseId: found.database.id,
    endpoint,
    ...(dbname && { dbname }),
    target: "discovered",
    role: found.role,
  };
}
