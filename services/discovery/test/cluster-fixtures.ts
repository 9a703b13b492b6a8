import type {
  ClusterSnapshot,
  ContainerSpec,
  EnvVar,
  OperatorCluster,
  Service,
  Workload,
} from "../src/domain/cluster-objects.ts";

let uids = 0;
const uid = (name: string) => `uid-${name}-${++uids}`;

export function container(
  image: string,
  env: EnvVar[] = [],
  extra: Partial<ContainerSpec> = {},
): ContainerSpec {
  return { name: "main", image, ports: [], env, envFrom: [], ...extra };
}

export const literal = (name: string, value: string): EnvVar => ({ name, source: "literal", value });
export const fromConfigMap = (name: string, object: string, key: string): EnvVar => ({
  name,
  source: "configmap",
  object,
  key,
});
export const fromSecret = (name: string, object: string, key: string): EnvVar => ({
  name,
  source: "secret",
  object,
  key,
});

export function workload(
  kind: string,
  namespace: string,
  name: string,
  containers: ContainerSpec[],
  extra: Partial<Workload> = {},
): Workload {
  return {
    kind,
    namespace,
    name,
    uid: uid(name),
    labels: { app: name },
    annotations: {},
    podLabels: { app: name },
    containers,
    owners: [],
    ...extra,
  };
}

export function service(
  namespace: string,
  name: string,
  selector: Record<string, string>,
  port = 5432,
  extra: Partial<Service> = {},
): Service {
  return {
    kind: "Service",
    namespace,
    name,
    uid: uid(name),
    labels: {},
    selector,
    ports: [{ port, targetPort: 5432 }],
    headless: false,
    ...extra,
  };
}

export function operatorCluster(
  operator: string,
  kind: string,
  namespace: string,
  name: string,
  spec: Record<string, unknown> = {},
): OperatorCluster {
  return { kind, namespace, name, uid: uid(name), operator, labels: {}, spec };
}

export function snapshot(parts: Partial<ClusterSnapshot>): ClusterSnapshot {
  return {
    workloads: [],
    services: [],
    configMaps: [],
    secrets: [],
    operatorClusters: [],
    clusterDomain: "cluster.local",
    ...parts,
  };
}
