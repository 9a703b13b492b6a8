import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { crdObject, syncCustomResources } from "./crd-sync.ts";
import { createHandler } from "./http-handler.ts";
import { readyStatusFor } from "./kind-rules.ts";
import { KubeOperations, metaOf } from "./kube-operations.ts";
import { writeKubeConfig } from "./kubeconfig.ts";
import { ObjectStore } from "./object-store.ts";
import { deepEqual, isObject, type JsonObject } from "./patches.ts";
import {
  type CustomResourceDefinitionInput,
  type KindRef,
  type ResourceDefinition,
  ResourceRegistry,
} from "./resource-registry.ts";
import { parseLabelSelector } from "./selectors.ts";
import type { ActiveWatch } from "./watch-stream.ts";

/** A Kubernetes object as JSON: `metadata` plus whatever the kind holds. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** One request the double received: what a test asserts about a client's access pattern. */
export interface KubeRequestRecord {
  readonly method: string;
  /** The URL path, e.g. `/api/v1/namespaces/shop/secrets/creds`. */
  readonly path: string;
  /** `?watch=true` (or `1`): a watch rather than a list. */
  readonly watch: boolean;
}

export interface KubeApiDoubleOptions {
  /** Port on 127.0.0.1; default a free one. */
  readonly port?: number;
  /** Namespace of the kubeconfig's context. Default `default`. */
  readonly namespace?: string;
  /** Namespaces that exist at start. Default those of a fresh cluster: default, kube-system, kube-public, kube-node-lease. */
  readonly namespaces?: readonly string[];
  /** Refuse (404) to create namespaced objects in a namespace that does not exist, as a real server does. Default true. */
  readonly requireNamespace?: boolean;
  /** Events kept for watches to resume from; older resourceVersions get 410 Gone. Default 10,000. */
  readonly historyLimit?: number;
  /** How often watches with `allowWatchBookmarks=true` get a BOOKMARK. Default 10 s. */
  readonly bookmarkIntervalMs?: number;
  /** Custom resources served from the start. */
  readonly customResources?: readonly CustomResourceDefinitionInput[];
}

/** A running Kubernetes API double: a real HTTP server plus direct access to its state for tests. */
export interface KubeApiDouble {
  /** `http://127.0.0.1:{port}`. */
  readonly url: string;
  /** Kubeconfig text pointing at the double: `kc.loadFromString(double.kubeConfigYaml)`. */
  readonly kubeConfigYaml: string;
  /** The same kubeconfig in a temp file (removed on close), e.g. for `KUBECONFIG` of a child service. */
  readonly kubeConfigPath: string;
  /** The latest resourceVersion handed out. */
  readonly resourceVersion: string;
  /** Watches currently streaming. */
  readonly openWatches: number;
  /** Every request received so far, in order (discovery and health requests included). */
  readonly requests: readonly KubeRequestRecord[];
  /**
   * Serves a custom resource (discovery and REST) from now on, by storing its
   * CustomResourceDefinition; creating a CRD through the API has the same effect.
   */
  addCustomResource(crd: CustomResourceDefinitionInput): void;
  /** Deletes the custom resource's CRD: it is no longer served and its objects are deleted (watches see DELETED). */
  removeCustomResource(group: string, plural: string): void;
  /** One object as stored, or undefined. `namespace` is ignored for cluster-scoped kinds. */
  get(kind: KindRef, namespace: string | undefined, name: string): KubeObject | undefined;
  /** Objects of a kind, optionally in one namespace and matching a label selector. */
  list(kind: KindRef, options?: { namespace?: string; labelSelector?: string }): KubeObject[];
  /**
   * Creates or replaces an object directly (kind from its apiVersion and kind), bypassing
   * validation, namespace existence and field ownership; watches see ADDED or MODIFIED.
   */
  put(obj: KubeObject): KubeObject;
  /** Deletes an object directly; returns whether it existed. */
  delete(kind: KindRef, namespace: string | undefined, name: string): boolean;
  /** Replaces an object's status, as its controller would; watches see MODIFIED. */
  setStatus(
    kind: KindRef,
    namespace: string | undefined,
    name: string,
    status: Record<string, unknown>,
  ): KubeObject;
  /**
   * Writes the status of a finished rollout for the current spec: StatefulSet/Deployment with all
   * `spec.replicas` ready, DaemonSet ready, Job complete, Pod running and ready.
   */
  markReady(kind: KindRef, namespace: string | undefined, name: string): KubeObject;
  /** Ends every open watch and forgets the event history: resuming from any earlier resourceVersion gets 410 Gone. */
  expireWatches(): void;
  /** Sends a BOOKMARK now to every watch that asked for bookmarks. */
  sendBookmarks(): void;
  close(): Promise<void>;
}

const freshClusterNamespaces = ["default", "kube-system", "kube-public", "kube-node-lease"];

/**
 * Starts the Kubernetes API double: an HTTP server speaking the subset of the Kubernetes REST API
 * dbplane uses (discovery, CRUD, server-side apply, list/watch with resourceVersions, selectors,
 * status subresource, dryRun), so `@kubernetes/client-node` runs against it unchanged.
 *
 * Where it is simpler than a real server, on purpose:
 * - no controllers: a StatefulSet gets no Pods and no status until a test calls `markReady` or
 *   `setStatus`; no garbage collection by ownerReferences; finalizers are ignored (delete is immediate);
 * - server-side apply tracks ownership per leaf field with lists atomic (the real server merges
 *   `containers`, `ports`, … by key); strategic merge patch is a JSON merge patch;
 * - no defaulting beyond Secret `stringData` → `data` and `type: Opaque`, Namespace `phase: Active`;
 * - lists are always "most recent" (`resourceVersionMatch` ignored); `continue` pages read the
 *   current state, not a snapshot; no `as=PartialObjectMetadataList`, no protobuf, no auth.
 * As on a real server: list items of built-in kinds carry no `kind`/`apiVersion` (watch events do),
 * namespaced objects need their Namespace, a write that changes nothing keeps its resourceVersion.
 */
export async function startKubeApiDouble(options: KubeApiDoubleOptions = {}): Promise<KubeApiDouble> {
  const registry = new ResourceRegistry();
  const store = new ObjectStore(options.historyLimit ?? 10_000);
  const crdDef = registry.byKindRef({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
  });
  syncCustomResources(store, registry, crdDef);
  const operations = new KubeOperations(store, options.requireNamespace ?? true);
  const watches = new Set<ActiveWatch>();
  const namespaceDef = registry.byKindRef({ apiVersion: "v1", kind: "Namespace" });
  const target = (def: ResourceDefinition, namespace: string | undefined) => ({
    def,
    namespace: def.namespaced ? (namespace ?? "default") : undefined,
    name: undefined,
    subresource: undefined,
  });
  for (const name of options.namespaces ?? freshClusterNamespaces) {
    operations.create(target(namespaceDef, undefined), { metadata: { name } }, "kube-apiserver");
  }
  const addCustomResource = (crd: CustomResourceDefinitionInput) => {
    const object = crdObject(crd);
    const live = store.get(crdDef, "", String(metaOf(object).name));
    if (live)
      operations.replace(target(crdDef, undefined), String(metaOf(object).name), object, "kube-api-double");
    else operations.create(target(crdDef, undefined), object, "kube-api-double");
  };
  for (const crd of options.customResources ?? []) addCustomResource(crd);

  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const requests: KubeRequestRecord[] = [];
  server.on("request", (req: { method?: string; url?: string }) => {
    const target = new URL(req.url ?? "/", "http://double.invalid");
    const watch = target.searchParams.get("watch");
    requests.push({
      method: req.method ?? "GET",
      path: target.pathname,
      watch: watch === "true" || watch === "1",
    });
  });
  server.on(
    "request",
    createHandler({
      registry,
      store,
      operations,
      watches,
      bookmarkIntervalMs: options.bookmarkIntervalMs ?? 10_000,
      serverAddress: `127.0.0.1:${port}`,
    }),
  );
  const kubeConfig = await writeKubeConfig(url, options.namespace ?? "default");

  const nsOf = (def: ResourceDefinition, namespace: string | undefined) =>
    def.namespaced ? (namespace ?? "") : "";
  const mustGet = (def: ResourceDefinition, namespace: string | undefined, name: string) => {
    const found = store.get(def, nsOf(def, namespace), name);
    if (!found)
      throw new Error(`${def.kind} ${namespace ?? ""}/${name} does not exist in the Kubernetes API double`);
    return found;
  };
  const writeStatus = (def: ResourceDefinition, obj: JsonObject, status: unknown) => {
    const next = structuredClone(obj);
    next.status = structuredClone(status);
    return deepEqual(next, obj) ? obj : store.write(def, next);
  };

  return {
    url,
    kubeConfigYaml: kubeConfig.yaml,
    kubeConfigPath: kubeConfig.path,
    get resourceVersion() {
      return String(store.resourceVersion);
    },
    get openWatches() {
      return watches.size;
    },
    requests,
    addCustomResource,
    removeCustomResource(group, plural) {
      store.remove(crdDef, "", `${plural}.${group}`);
    },
    get(kind, namespace, name) {
      const def = registry.byKindRef(kind);
      return store.get(def, nsOf(def, namespace), name) as KubeObject | undefined;
    },
    list(kind, listOptions = {}) {
      const def = registry.byKindRef(kind);
      const matches = parseLabelSelector(listOptions.labelSelector);
      return store.list(def, def.namespaced ? listOptions.namespace : undefined).filter((obj) => {
        const labels = metaOf(obj).labels;
        return matches(isObject(labels) ? (labels as Record<string, string>) : {});
      }) as KubeObject[];
    },
    put(obj) {
      if (!obj.apiVersion || !obj.kind || !obj.metadata?.name)
        throw new Error("put needs apiVersion, kind and metadata.name");
      const def = registry.byKindRef({ apiVersion: obj.apiVersion, kind: obj.kind });
      const next = structuredClone(obj) as JsonObject;
      const meta = metaOf(next);
      if (def.namespaced) meta.namespace ??= "default";
      else delete meta.namespace;
      const live = store.get(def, nsOf(def, meta.namespace as string | undefined), obj.metadata.name);
      const liveMeta = live ? metaOf(live) : undefined;
      meta.uid = liveMeta?.uid ?? meta.uid ?? randomUUID();
      meta.creationTimestamp ??=
        liveMeta?.creationTimestamp ?? new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
      const { metadata: _nm, status: _ns, ...nextSpec } = next;
      const { metadata: _lm, status: _ls, ...liveSpec } = live ?? {};
      const generation = Number(liveMeta?.generation ?? 0) + (live && deepEqual(nextSpec, liveSpec) ? 0 : 1);
      meta.generation ??= generation;
      return store.write(def, next) as KubeObject;
    },
    delete(kind, namespace, name) {
      const def = registry.byKindRef(kind);
      return store.remove(def, nsOf(def, namespace), name) !== undefined;
    },
    setStatus(kind, namespace, name, status) {
      const def = registry.byKindRef(kind);
      return writeStatus(def, mustGet(def, namespace, name), status) as KubeObject;
    },
    markReady(kind, namespace, name) {
      const def = registry.byKindRef(kind);
      const obj = mustGet(def, namespace, name);
      const status = readyStatusFor(def, obj);
      if (!status) throw new Error(`markReady does not know what ready means for ${def.kind}; use setStatus`);
      return writeStatus(def, obj, status) as KubeObject;
    },
    expireWatches() {
      store.expire();
    },
    sendBookmarks() {
      for (const watch of watches) watch.bookmark();
    },
    async close() {
      for (const watch of [...watches]) watch.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await kubeConfig.remove();
    },
  };
}
