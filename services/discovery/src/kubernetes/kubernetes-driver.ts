import { connectKube } from "@dbplane/kube";
import type { Logger } from "@dbplane/service-kit";
import type { DiscoveryDriver } from "../discovery-driver.ts";
import { classifyCluster } from "../domain/cluster-inventory.ts";
import type {
  ClusterSnapshot,
  ConfigMap,
  OperatorCluster,
  Service,
  Workload,
} from "../domain/cluster-objects.ts";
import { type InformerSetOptions, informKind, type KindInformers } from "./informer-set.ts";
import { watchOperators } from "./operator-watch.ts";
import { createReferencedSecrets, type ReferencedSecrets, referencedSecrets } from "./referenced-secrets.ts";
import { BUILT_IN_KINDS } from "./watched-kinds.ts";

export interface KubernetesDriverOptions {
  /** Kubeconfig path; KUBECONFIG / ~/.kube/config / in-cluster when absent. */
  readonly kubeconfig: string | undefined;
  readonly namespaces: readonly string[] | undefined;
  readonly excludeNamespaces: readonly string[];
  readonly clusterDomain: string;
  /** Namespaces where the Secrets that workloads reference are read by name; empty: none. */
  readonly secretNamespaces: readonly string[];
  readonly secretRefreshMs: number;
  readonly logger: Logger;
  readonly onRestart: (kind: string, reason: "relist" | "error") => void;
}

type Watched = Omit<ClusterSnapshot, "secrets" | "clusterDomain">;

function watchedOf(all: readonly KindInformers[]): Watched {
  const workloads: Workload[] = [];
  const services: Service[] = [];
  const configMaps: ConfigMap[] = [];
  const operatorClusters: OperatorCluster[] = [];
  for (const informers of all) {
    for (const item of informers.objects()) {
      if (item.bucket === "workloads") workloads.push(item.value);
      else if (item.bucket === "services") services.push(item.value);
      else if (item.bucket === "configMaps") configMaps.push(item.value);
      else operatorClusters.push(item.value);
    }
  }
  return { workloads, services, configMaps, operatorClusters };
}

/**
 * Informers on workloads, Services, ConfigMaps and operator clusters; the Secrets the workloads
 * reference read by name (reduced to hints); classification on demand. A change of the
 * workloads reads the Secrets they now name before it is reported, so an app is not first
 * published without its Secret's hints.
 */
export function createKubernetesDriver(options: KubernetesDriverOptions): DiscoveryDriver {
  const { config } = connectKube(options.kubeconfig);
  let builtIns: KindInformers[] = [];
  let operators: ReturnType<typeof watchOperators> | undefined;
  let secrets: ReferencedSecrets | undefined;
  const all = () => [...builtIns, ...(operators?.informers() ?? [])];
  /** Reads the Secrets the current workloads name; resolves when they are in. */
  const readReferenced = () =>
    secrets?.want(referencedSecrets(watchedOf(builtIns).workloads)) ?? Promise.resolve();
  let settling = false;
  return {
    kind: "kubernetes",
    start(onChange) {
      secrets = createReferencedSecrets({
        config,
        namespaces: new Set(options.secretNamespaces),
        refreshMs: options.secretRefreshMs,
        logger: options.logger,
        onChange,
      });
      // Many events in a row (a relist) read the references once: the flag coalesces them.
      const changed = () => {
        if (settling) return;
        settling = true;
        setImmediate(() => {
          settling = false;
          readReferenced().then(onChange, onChange);
        });
      };
      const set: InformerSetOptions = {
        config,
        namespaces: options.namespaces,
        excludeNamespaces: new Set(options.excludeNamespaces),
        logger: options.logger,
        onChange: changed,
        onRestart: options.onRestart,
      };
      builtIns = BUILT_IN_KINDS.map((kind) => informKind(kind, set));
      operators = watchOperators(set);
    },
    async synced() {
      await Promise.all([...builtIns.map((i) => i.synced), operators?.synced()]);
      await readReferenced();
    },
    isSynced: () => builtIns.every((i) => i.isSynced()) && (operators?.isSynced() ?? false),
    inventory: () =>
      classifyCluster({
        ...watchedOf(all()),
        secrets: secrets?.secrets() ?? [],
        clusterDomain: options.clusterDomain,
      }),
    watermark: () =>
      Math.max(
        0,
        operators?.resourceVersion() ?? 0,
        secrets?.resourceVersion() ?? 0,
        ...all().map((i) => i.resourceVersion()),
      ),
    watched: () => ({
      ...Object.fromEntries(
        all().map((i) => [
          i.kind.kind === "Cluster" ? `${i.kind.apiVersion.split("/")[0]}/Cluster` : i.kind.kind,
          i.count(),
        ]),
      ),
      Secret: secrets?.count() ?? 0,
    }),
    async stop() {
      secrets?.stop();
      await Promise.all([...builtIns.map((i) => i.stop()), operators?.stop()]);
    },
  };
}
