import type { ClusterSnapshot, ContainerSpec, Service, Workload } from "./cluster-objects.ts";
import type { DatabaseAddress, DatabaseRecord } from "./inventory-types.ts";
import { roleOfSelector } from "./operators.ts";
import { isPostgresImage, postgresVersionOf } from "./postgres-image.ts";
import { selectsWorkload } from "./selector-match.ts";
import { serviceHost } from "./service-dns.ts";
import { servicesIn } from "./snapshot-index.ts";

export const POSTGRES_PORT = 5432;

function isServerContainer(container: ContainerSpec): boolean {
  return isPostgresImage(container.image) || container.ports.includes(POSTGRES_PORT);
}

/** Whether a workload runs a PostgreSQL server: a postgres-family image or a container on 5432. */
export function isServerWorkload(workload: Workload): boolean {
  return workload.containers.some(isServerContainer);
}

/** The Service port that leads to PostgreSQL: the one targeting 5432, named for it, or the only one. */
export function postgresPortOf(service: Service): number {
  const ports = service.ports;
  const match =
    ports.find((p) => p.targetPort === POSTGRES_PORT || p.port === POSTGRES_PORT) ??
    ports.find((p) =>
      /postgres|^pg|sql/i.test(`${p.name ?? ""}${typeof p.targetPort === "string" ? p.targetPort : ""}`),
    ) ??
    ports[0];
  return match?.port ?? POSTGRES_PORT;
}

/** Addresses of the Services given, primary first, headless last, then by name. */
export function addressesOf(services: readonly Service[], clusterDomain: string): DatabaseAddress[] {
  const rank = (s: Service) =>
    s.headless ? 3 : { primary: 0, any: 1, replica: 2 }[roleOfSelector(s.selector)];
  return [...services]
    .sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name))
    .map((s) => ({
      host: serviceHost(s, clusterDomain),
      port: postgresPortOf(s),
      role: roleOfSelector(s.selector),
      service: s.name,
    }));
}

function literalEnv(container: ContainerSpec | undefined, names: readonly string[]): string | undefined {
  for (const env of container?.env ?? []) {
    if (
      env.source === "literal" &&
      names.includes(env.name) &&
      env.value.length > 0 &&
      env.value.length <= 63
    ) {
      return env.value;
    }
  }
  return undefined;
}

/**
 * What a PostgreSQL server found in Kubernetes records whatever runs it (an operator's cluster, a
 * plain workload): where it is reached, and its database name and version when its spec says.
 */
export function kubernetesServer(
  endpoint: { readonly host: string; readonly port: number },
  dbname: string | undefined,
  version: string | undefined,
) {
  return {
    driver: "kubernetes",
    engine: "postgresql",
    endpoint: { host: endpoint.host, port: endpoint.port },
    ...(dbname && { dbname }),
    ...(version && { serverVersion: version }),
  } as const;
}

/** A PostgreSQL server run by a plain workload (a chart, a manifest, a dbplane shard). */
export function workloadDatabase(workload: Workload, snapshot: ClusterSnapshot): DatabaseRecord {
  const services = servicesIn(snapshot, workload.namespace).filter((s) => selectsWorkload(s, workload));
  const addresses = addressesOf(services, snapshot.clusterDomain);
  const fallbackHost = serviceHost(
    { namespace: workload.namespace, name: workload.serviceName ?? workload.name },
    snapshot.clusterDomain,
  );
  const endpoint = addresses[0] ?? { host: fallbackHost, port: POSTGRES_PORT };
  const container = workload.containers.find(isServerContainer);
  const version = container ? postgresVersionOf(container.image) : undefined;
  const dbname = literalEnv(container, ["POSTGRES_DB", "POSTGRESQL_DATABASE", "POSTGRES_DATABASE"]);
  const managedBy = workload.labels["app.kubernetes.io/managed-by"];
  return {
    id: workload.uid,
    ...kubernetesServer(endpoint, dbname, version),
    ...(managedBy && { managedBy: managedBy.toLowerCase() === "dbplane" ? "dbplane" : managedBy }),
    workload: { namespace: workload.namespace, kind: workload.kind, name: workload.name, uid: workload.uid },
    addresses,
    labels: workload.labels,
  };
}
