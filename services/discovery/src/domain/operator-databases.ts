import type { ClusterSnapshot, OperatorCluster, Service, Workload } from "./cluster-objects.ts";
import type { DatabaseAddress, DatabaseRecord } from "./inventory-types.ts";
import { OPERATORS, type OperatorProfile } from "./operators.ts";
import { addressesOf, kubernetesServer, POSTGRES_PORT } from "./server-workloads.ts";
import { serviceHost } from "./service-dns.ts";
import { servicesIn } from "./snapshot-index.ts";

function profileOf(cluster: OperatorCluster): OperatorProfile | undefined {
  return OPERATORS.find((o) => o.operator === cluster.operator);
}

/** The operator cluster a workload belongs to (Zalando's and Crunchy's StatefulSets), if it exists. */
export function owningCluster(workload: Workload, snapshot: ClusterSnapshot): OperatorCluster | undefined {
  return snapshot.operatorClusters.find((cluster) => {
    const profile = profileOf(cluster);
    return (
      profile !== undefined &&
      cluster.namespace === workload.namespace &&
      (workload.labels[profile.clusterLabel] === cluster.name ||
        workload.podLabels[profile.clusterLabel] === cluster.name)
    );
  });
}

function at(spec: unknown, path: readonly string[]): unknown {
  let value = spec;
  for (const key of path)
    value = value && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
  return value;
}

/** The version an operator's spec asks for, where its schema says it (spec.postgresVersion, …). */
function specVersion(spec: Readonly<Record<string, unknown>>): string | undefined {
  const candidates = [
    at(spec, ["postgresVersion"]),
    at(spec, ["postgresql", "version"]),
    at(spec, ["postgres", "version"]),
    at(spec, ["serviceVersion"]),
    typeof spec.imageName === "string" ? /:(\d{1,2}(?:\.\d{1,2})?)/.exec(spec.imageName)?.[1] : undefined,
  ];
  const found = candidates.find((v) => typeof v === "string" || typeof v === "number");
  return found === undefined ? undefined : String(found);
}

function specDbname(cluster: OperatorCluster): string | undefined {
  if (cluster.operator === "cloudnative-pg") {
    const name = at(cluster.spec, ["bootstrap", "initdb", "database"]);
    return typeof name === "string" ? name : "app";
  }
  const databases = at(cluster.spec, ["databases"]);
  const first = databases && typeof databases === "object" ? Object.keys(databases)[0] : undefined;
  return first && first.length <= 63 ? first : undefined;
}

/** The operator's conventional Services, for those not (yet) seen as objects. */
function conventionalAddresses(
  profile: OperatorProfile,
  cluster: OperatorCluster,
  seen: readonly Service[],
  domain: string,
) {
  const out: DatabaseAddress[] = [];
  const add = (name: string, role: "primary" | "replica") => {
    if (seen.some((s) => s.name === name)) return;
    out.push({
      host: serviceHost({ namespace: cluster.namespace, name }, domain),
      port: POSTGRES_PORT,
      role,
      service: name,
    });
  };
  add(profile.primaryService(cluster.name), "primary");
  if (profile.replicaService) add(profile.replicaService(cluster.name), "replica");
  return out;
}

/** A database run by a PostgreSQL operator, from its cluster custom resource. */
export function operatorDatabase(
  cluster: OperatorCluster,
  snapshot: ClusterSnapshot,
): DatabaseRecord | undefined {
  const profile = profileOf(cluster);
  if (!profile?.isPostgres(cluster)) return undefined;
  const services = servicesIn(snapshot, cluster.namespace).filter(
    (s) =>
      s.namespace === cluster.namespace &&
      (s.selector[profile.clusterLabel] === cluster.name ||
        s.name === profile.primaryService(cluster.name) ||
        s.name === profile.replicaService?.(cluster.name)),
  );
  const addresses = [
    ...addressesOf(services, snapshot.clusterDomain),
    ...conventionalAddresses(profile, cluster, services, snapshot.clusterDomain),
  ];
  const primaryName = profile.primaryService(cluster.name);
  const endpoint = addresses.find((a) => a.service === primaryName) ?? addresses[0]!;
  const version = specVersion(cluster.spec);
  const dbname = specDbname(cluster);
  return {
    id: cluster.uid,
    ...kubernetesServer(endpoint, dbname, version),
    managedBy: profile.operator,
    workload: { namespace: cluster.namespace, kind: cluster.kind, name: cluster.name, uid: cluster.uid },
    addresses: [endpoint, ...addresses.filter((a) => a !== endpoint)],
    labels: cluster.labels,
  };
}
