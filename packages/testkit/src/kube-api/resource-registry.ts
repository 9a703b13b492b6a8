/** One REST resource the double serves: where it lives and how it behaves. */
export interface ResourceDefinition {
  /** API group; `""` for the core group (`/api/v1`). */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  /** Lower-case plural used in URLs, e.g. `statefulsets`. */
  readonly plural: string;
  readonly namespaced: boolean;
  /** Whether `/status` is a separate subresource (main-resource writes then keep status as is). */
  readonly statusSubresource?: boolean;
  readonly shortNames?: readonly string[];
}

/** What `addCustomResource` takes: a CRD reduced to what the double needs. */
export interface CustomResourceDefinitionInput {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
  /** Default true, as every operator CRD dbplane cares about has a status subresource. */
  readonly statusSubresource?: boolean;
  readonly shortNames?: readonly string[];
}

const core = (kind: string, plural: string, namespaced: boolean, statusSubresource: boolean) =>
  ({ group: "", version: "v1", kind, plural, namespaced, statusSubresource }) as const;
const grouped = (group: string, version: string, kind: string, plural: string, statusSubresource = true) =>
  ({ group, version, kind, plural, namespaced: true, statusSubresource }) as const;

/** The built-in kinds: what dbplane's provisioner writes and its discovery watches, and a few neighbours. */
export const builtInResources: readonly ResourceDefinition[] = [
  core("Namespace", "namespaces", false, true),
  core("Pod", "pods", true, true),
  core("Service", "services", true, true),
  core("Secret", "secrets", true, false),
  core("ConfigMap", "configmaps", true, false),
  core("PersistentVolumeClaim", "persistentvolumeclaims", true, true),
  core("ServiceAccount", "serviceaccounts", true, false),
  core("Endpoints", "endpoints", true, false),
  core("Event", "events", true, false),
  grouped("apps", "v1", "Deployment", "deployments"),
  grouped("apps", "v1", "StatefulSet", "statefulsets"),
  grouped("apps", "v1", "DaemonSet", "daemonsets"),
  grouped("apps", "v1", "ReplicaSet", "replicasets"),
  grouped("batch", "v1", "Job", "jobs"),
  grouped("batch", "v1", "CronJob", "cronjobs"),
  grouped("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets"),
  grouped("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
  grouped("networking.k8s.io", "v1", "Ingress", "ingresses"),
  grouped("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", false),
  grouped("rbac.authorization.k8s.io", "v1", "Role", "roles", false),
  grouped("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", false),
  {
    group: "apiextensions.k8s.io",
    version: "v1",
    kind: "CustomResourceDefinition",
    plural: "customresourcedefinitions",
    namespaced: false,
    statusSubresource: true,
  },
];

/**
 * CRDs of the PostgreSQL operators discovery looks for, and the Prometheus operator's, ready for
 * `addCustomResource`. They are not served until registered, so "when the CRD exists" can be
 * tested both ways.
 */
export const knownCustomResources = {
  cloudNativePgCluster: {
    group: "postgresql.cnpg.io",
    version: "v1",
    kind: "Cluster",
    plural: "clusters",
    namespaced: true,
  },
  zalandoPostgresql: {
    group: "acid.zalan.do",
    version: "v1",
    kind: "postgresql",
    plural: "postgresqls",
    namespaced: true,
  },
  crunchyPostgresCluster: {
    group: "postgres-operator.crunchydata.com",
    version: "v1beta1",
    kind: "PostgresCluster",
    plural: "postgresclusters",
    namespaced: true,
  },
  stackGresCluster: {
    group: "stackgres.io",
    version: "v1",
    kind: "SGCluster",
    plural: "sgclusters",
    namespaced: true,
  },
  kubeBlocksCluster: {
    group: "apps.kubeblocks.io",
    version: "v1alpha1",
    kind: "Cluster",
    plural: "clusters",
    namespaced: true,
  },
  prometheusServiceMonitor: {
    group: "monitoring.coreos.com",
    version: "v1",
    kind: "ServiceMonitor",
    plural: "servicemonitors",
    namespaced: true,
    statusSubresource: false,
  },
  prometheusPodMonitor: {
    group: "monitoring.coreos.com",
    version: "v1",
    kind: "PodMonitor",
    plural: "podmonitors",
    namespaced: true,
    statusSubresource: false,
  },
} as const satisfies Record<string, CustomResourceDefinitionInput>;

/** `apps/v1` or `v1` for the core group. */
export function apiVersionOf(def: Pick<ResourceDefinition, "group" | "version">): string {
  return def.group === "" ? def.version : `${def.group}/${def.version}`;
}

/** Stable key of a resource across versions of the same group: `apps/statefulsets`. */
export function resourceKey(def: Pick<ResourceDefinition, "group" | "plural">): string {
  return `${def.group}/${def.plural}`;
}

/** The set of resources currently served; custom ones come and go at the tests' command. */
export class ResourceRegistry {
  readonly #resources = new Map<string, ResourceDefinition>();
  readonly #custom = new Set<string>();

  constructor() {
    for (const def of builtInResources) this.#resources.set(this.#urlKey(def), def);
  }

  #urlKey(def: Pick<ResourceDefinition, "group" | "version" | "plural">): string {
    return `${def.group}/${def.version}/${def.plural}`;
  }

  addCustom(input: CustomResourceDefinitionInput): ResourceDefinition {
    const def: ResourceDefinition = { statusSubresource: true, ...input };
    const key = this.#urlKey(def);
    if (this.#resources.has(key) && !this.#custom.has(key)) {
      throw new Error(`${def.plural}.${def.group}/${def.version} is a built-in resource`);
    }
    this.#resources.set(key, def);
    this.#custom.add(key);
    return def;
  }

  /** Stops serving every version of a custom resource; returns the definitions removed. */
  removeCustom(group: string, plural: string): ResourceDefinition[] {
    const removed: ResourceDefinition[] = [];
    for (const key of [...this.#custom]) {
      const def = this.#resources.get(key);
      if (def && def.group === group && def.plural === plural) {
        this.#resources.delete(key);
        this.#custom.delete(key);
        removed.push(def);
      }
    }
    return removed;
  }

  isCustom(def: ResourceDefinition): boolean {
    return this.#custom.has(this.#urlKey(def));
  }

  byUrl(group: string, version: string, plural: string): ResourceDefinition | undefined {
    return this.#resources.get(`${group}/${version}/${plural}`);
  }

  byApiVersionKind(apiVersion: string, kind: string): ResourceDefinition | undefined {
    return this.all().find((def) => apiVersionOf(def) === apiVersion && def.kind === kind);
  }

  /** Resolves `"StatefulSet"` (when unambiguous) or `"apps/v1/StatefulSet"`-style references. */
  byKindRef(ref: KindRef): ResourceDefinition {
    if (typeof ref === "object") {
      const def = this.byApiVersionKind(ref.apiVersion, ref.kind);
      if (!def) throw new Error(`no resource ${ref.apiVersion} ${ref.kind} is served`);
      return def;
    }
    const matches = this.all().filter((def) => def.kind === ref || def.plural === ref);
    if (matches.length === 1) return matches[0]!;
    if (matches.length === 0) throw new Error(`no resource of kind ${ref} is served`);
    const candidates = matches.map((def) => `${apiVersionOf(def)} ${def.kind}`).join(", ");
    throw new Error(`kind ${ref} is ambiguous (${candidates}); pass { apiVersion, kind }`);
  }

  all(): ResourceDefinition[] {
    return [...this.#resources.values()];
  }
}

/** A kind by name (`"StatefulSet"`, unambiguous among served kinds) or by apiVersion and kind. */
export type KindRef = string | { readonly apiVersion: string; readonly kind: string };
