/**
 * What discovery keeps of the Kubernetes objects it watches: plain data, reduced at ingestion.
 * Secrets keep key names and connection hints only — never a value that is not a host, port or
 * database name (see `secret-hints.ts`).
 */

export type Labels = Readonly<Record<string, string>>;

export interface ObjectRef {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

/** An env var of a container: a literal, or a reference to a ConfigMap or Secret key. */
export type EnvVar =
  | { readonly name: string; readonly source: "literal"; readonly value: string }
  | {
      readonly name: string;
      readonly source: "configmap" | "secret";
      readonly object: string;
      readonly key: string;
    };

/** `envFrom`: every key of a ConfigMap or Secret becomes a variable, optionally prefixed. */
export interface EnvFrom {
  readonly source: "configmap" | "secret";
  readonly object: string;
  readonly prefix: string;
}

export interface ContainerSpec {
  readonly name: string;
  readonly image: string;
  readonly ports: readonly number[];
  readonly env: readonly EnvVar[];
  readonly envFrom: readonly EnvFrom[];
}

/** A Deployment, StatefulSet or DaemonSet. */
export interface Workload extends ObjectRef {
  readonly labels: Labels;
  readonly annotations: Labels;
  /** Labels of the pod template, which Services select on. */
  readonly podLabels: Labels;
  readonly containers: readonly ContainerSpec[];
  /** StatefulSet `spec.serviceName`. */
  readonly serviceName?: string;
  /** Kinds and uids of its ownerReferences. */
  readonly owners: readonly string[];
}

export interface ServicePort {
  readonly port: number;
  readonly targetPort?: number | string;
  readonly name?: string;
}

export interface Service extends ObjectRef {
  readonly labels: Labels;
  readonly selector: Labels;
  readonly ports: readonly ServicePort[];
  readonly headless: boolean;
}

export interface ConfigMap extends ObjectRef {
  readonly data: Readonly<Record<string, string>>;
}

/** Per key: the connection facts found in a Secret's value, and nothing else of it. */
export interface ConnectionHint {
  readonly host?: string;
  readonly port?: number;
  readonly dbname?: string;
}

export interface SecretKeys extends ObjectRef {
  readonly keys: readonly string[];
  readonly hints: Readonly<Record<string, ConnectionHint>>;
}

/** A PostgreSQL operator's cluster custom resource. */
export interface OperatorCluster extends ObjectRef {
  readonly operator: string;
  readonly labels: Labels;
  readonly spec: Readonly<Record<string, unknown>>;
}

/** Everything the classification reads: one consistent view of the watched objects. */
export interface ClusterSnapshot {
  readonly workloads: readonly Workload[];
  readonly services: readonly Service[];
  readonly configMaps: readonly ConfigMap[];
  readonly secrets: readonly SecretKeys[];
  readonly operatorClusters: readonly OperatorCluster[];
  /** `cluster.local` unless the cluster says otherwise. */
  readonly clusterDomain: string;
}
