import type { KubernetesObject, V1Service } from "@kubernetes/client-node";
import type { ConfigMap, OperatorCluster, Service, Workload } from "../domain/cluster-objects.ts";
import type { OperatorProfile } from "../domain/operators.ts";
import { reduceConfigMap, toConfigMap, toOperatorCluster, toService, toWorkload } from "./object-reducers.ts";

type Raw = KubernetesObject & Record<string, unknown>;

/** Which part of the snapshot a kind feeds, with the object converted for it. */
export type Converted =
  | { readonly bucket: "workloads"; readonly value: Workload }
  | { readonly bucket: "services"; readonly value: Service }
  | { readonly bucket: "configMaps"; readonly value: ConfigMap }
  | { readonly bucket: "operatorClusters"; readonly value: OperatorCluster };

export interface WatchedKind {
  readonly apiVersion: string;
  readonly kind: string;
  readonly plural: string;
  readonly reduce?: (obj: Raw) => void;
  readonly convert: (obj: Raw) => Converted;
}

const workload = (kind: string, plural: string): WatchedKind => ({
  apiVersion: "apps/v1",
  kind,
  plural,
  convert: (obj) => ({ bucket: "workloads", value: toWorkload(obj, kind) }),
});

/**
 * The built-in kinds discovery watches (RBAC: get, list, watch on each). Not Secrets: a list or
 * watch right on them reads every password in the cluster; the Secrets that workloads reference
 * are read by name instead (`referenced-secrets.ts`).
 */
export const BUILT_IN_KINDS: readonly WatchedKind[] = [
  workload("Deployment", "deployments"),
  workload("StatefulSet", "statefulsets"),
  workload("DaemonSet", "daemonsets"),
  {
    apiVersion: "v1",
    kind: "Service",
    plural: "services",
    convert: (obj) => ({ bucket: "services", value: toService(obj as V1Service) }),
  },
  {
    apiVersion: "v1",
    kind: "ConfigMap",
    plural: "configmaps",
    reduce: reduceConfigMap,
    convert: (obj) => ({ bucket: "configMaps", value: toConfigMap(obj) }),
  },
];

/** An operator's cluster resource as a watched kind, at the version its CRD serves. */
export function operatorKind(profile: OperatorProfile, version: string): WatchedKind {
  return {
    apiVersion: `${profile.group}/${version}`,
    kind: profile.kind,
    plural: profile.plural,
    convert: (obj) => ({
      bucket: "operatorClusters",
      value: toOperatorCluster(obj, profile.operator, profile.kind),
    }),
  };
}
