import type { Labels, OperatorCluster } from "./cluster-objects.ts";

/** How one PostgreSQL operator names and labels what it runs for a cluster custom resource. */
export interface OperatorProfile {
  /** `managedBy` of its databases. */
  readonly operator: string;
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  /** Label on the cluster's pods and workloads whose value is the cluster's name. */
  readonly clusterLabel: string;
  /** Label telling a primary pod from a replica, as its Services select on. */
  readonly roleLabel: string;
  /** The Services the operator creates, by naming convention: primary and read-only. */
  readonly primaryService: (cluster: string) => string;
  readonly replicaService?: (cluster: string) => string;
  /** Whether a cluster object runs PostgreSQL (KubeBlocks runs many engines). */
  readonly isPostgres: (cluster: OperatorCluster) => boolean;
}

const always = () => true;

export const OPERATORS: readonly OperatorProfile[] = [
  {
    operator: "cloudnative-pg",
    group: "postgresql.cnpg.io",
    version: "v1",
    plural: "clusters",
    kind: "Cluster",
    clusterLabel: "cnpg.io/cluster",
    roleLabel: "cnpg.io/instanceRole",
    primaryService: (c) => `${c}-rw`,
    replicaService: (c) => `${c}-ro`,
    isPostgres: always,
  },
  {
    operator: "zalando-postgres-operator",
    group: "acid.zalan.do",
    version: "v1",
    plural: "postgresqls",
    kind: "postgresql",
    clusterLabel: "cluster-name",
    roleLabel: "spilo-role",
    primaryService: (c) => c,
    replicaService: (c) => `${c}-repl`,
    isPostgres: always,
  },
  {
    operator: "crunchy-postgres-operator",
    group: "postgres-operator.crunchydata.com",
    version: "v1beta1",
    plural: "postgresclusters",
    kind: "PostgresCluster",
    clusterLabel: "postgres-operator.crunchydata.com/cluster",
    roleLabel: "postgres-operator.crunchydata.com/role",
    primaryService: (c) => `${c}-primary`,
    replicaService: (c) => `${c}-replicas`,
    isPostgres: always,
  },
  {
    operator: "stackgres",
    group: "stackgres.io",
    version: "v1",
    plural: "sgclusters",
    kind: "SGCluster",
    clusterLabel: "stackgres.io/cluster-name",
    roleLabel: "role",
    primaryService: (c) => c,
    replicaService: (c) => `${c}-replicas`,
    isPostgres: always,
  },
  {
    operator: "kubeblocks",
    group: "apps.kubeblocks.io",
    version: "v1alpha1",
    plural: "clusters",
    kind: "Cluster",
    clusterLabel: "app.kubernetes.io/instance",
    roleLabel: "kubeblocks.io/role",
    primaryService: (c) => `${c}-postgresql`,
    isPostgres: (cluster) => /postgres/i.test(JSON.stringify(kubeBlocksEngine(cluster.spec))),
  },
];

function kubeBlocksEngine(spec: Readonly<Record<string, unknown>>): unknown[] {
  const components = Array.isArray(spec.componentSpecs)
    ? (spec.componentSpecs as Record<string, unknown>[])
    : [];
  return [
    spec.clusterDefinitionRef,
    spec.clusterDef,
    ...components.flatMap((c) => [c?.componentDef, c?.componentDefRef]),
  ].filter((v) => typeof v === "string");
}

/** Label values operators put on primaries and on replicas. */
const PRIMARY_VALUES = new Set(["primary", "master", "leader"]);
const REPLICA_VALUES = new Set(["replica", "secondary", "standby", "follower"]);

/** Labels that controllers set on pods at run time, so a pod template never carries them. */
export const RUNTIME_POD_LABELS = new Set([
  "statefulset.kubernetes.io/pod-name",
  "apps.kubernetes.io/pod-index",
  "controller-revision-hash",
  "pod-template-hash",
  "role",
  ...OPERATORS.map((o) => o.roleLabel),
]);

/** What a Service's selector says about the role of the pods it reaches. */
export function roleOfSelector(selector: Labels): "primary" | "replica" | "any" {
  for (const key of ["role", ...OPERATORS.map((o) => o.roleLabel)]) {
    const value = selector[key]?.toLowerCase();
    if (value && PRIMARY_VALUES.has(value)) return "primary";
    if (value && REPLICA_VALUES.has(value)) return "replica";
  }
  // A StatefulSet's pod 0 is the primary by convention (dbplane's shards, most charts).
  if (selector["statefulset.kubernetes.io/pod-name"]?.endsWith("-0")) return "primary";
  return "any";
}
