import { connectKube } from "@dbplane/kube";
import type { Logger } from "@dbplane/service-kit";
import type { DiscoveryDriver } from "../discovery-driver.ts";
import { classifyCluster } from "../domain/cluster-inventory.ts";
import type {
  ClusterSnapshot,
  ConfigMap,
  OperatorCluster,
  SecretKeys,
  Service,
  Workload,
} from "../domain/cluster-objects.ts";
import { type InformerSetOptions, informKind, type KindInformers } from "./informer-set.ts";
import { watchOperators } from "./operator-watch.ts";
import { BUILT_IN_KINDS } from "./watched-kinds.ts";

export interface KubernetesDriverOptions {
  /** Kubeconfig path; KUBECONFIG / ~/.kube/config / in-cluster when absent. */
  readonly kubeconfig: string | undefined;
  readonly namespaces: readonly string[] | undefined;
  readonly excludeNamespaces: readonly string[];
  readonly clusterDomain: string;
  readonly logger: Logger;
  readonly onRestart: (kind: string, reason: "relist" | "error") => void;
}

function snapshotOf(all: readonly KindInformers[], clusterDomain: string): ClusterSnapshot {
  const workloads: Workload[] = [];
  const services: Service[] = [];
  const configMaps: ConfigMap[] = [];
  const secrets: SecretKeys[] = [];
  const operatorClusters: OperatorCluster[] = [];
  for (const informers of all) {
    for (const item of informers.objects()) {
      if (item.bucket === "workloads") workloads.push(item.value);
      else if (item.bucket === "services") services.push(item.value);
      else if (item.bucket === "configMaps") configMaps.push(item.value);
      else if (item.bucket === "secrets") secrets.push(item.value);
      else operatorClusters.push(item.value);
    }
  }
  return { workloads, services, configMaps, secrets, operatorClusters, clusterDomain };
}

/** Informers on workloads, Services, ConfigMaps, Secrets (reduced) and operator clusters; classification on demand. */
export function createKubernetesDriver(options: KubernetesDriverOptions): DiscoveryDriver {
  const { config } = connectKube(options.kubeconfig);
  let builtIns: KindInformers[] = [];
  let operators: ReturnType<typeof watchOperators> | undefined;
  const all = () => [...builtIns, ...(operators?.informers() ?? [])];
  return {
    kind: "kubernetes",
    start(onChange) {
      const set: InformerSetOptions = {
        config,
        namespaces: options.namespaces,
        excludeNamespaces: new Set(options.excludeNamespaces),
        logger: options.logger,
        onChange,
        onRestart: options.onRestart,
      };
      builtIns = BUILT_IN_KINDS.map((kind) => informKind(kind, set));
      operators = watchOperators(set);
    },
    async synced() {
      await Promise.all([...builtIns.map((i) => i.synced), operators?.synced()]);
    },
    isSynced: () => builtIns.every((i) => i.isSynced()) && (operators?.isSynced() ?? false),
    inventory: () => classifyCluster(snapshotOf(all(), options.clusterDomain)),
    watermark: () => Math.max(0, operators?.resourceVersion() ?? 0, ...all().map((i) => i.resourceVersion())),
    watched: () =>
      Object.fromEntries(
        all().map((i) => [
          i.kind.kind === "Cluster" ? `${i.kind.apiVersion.split("/")[0]}/Cluster` : i.kind.kind,
          i.count(),
        ]),
      ),
    async stop() {
      await Promise.all([...builtIns.map((i) => i.stop()), operators?.stop()]);
    },
  };
}
