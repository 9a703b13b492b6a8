import { createResourceInformer, type ResourceInformer } from "@dbplane/kube";
import type { Logger } from "@dbplane/service-kit";
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import { reduceCommon } from "./object-reducers.ts";
import type { Converted, WatchedKind } from "./watched-kinds.ts";

type Raw = KubernetesObject & Record<string, unknown>;

export interface InformerSetOptions {
  readonly config: KubeConfig;
  /** Watch these namespaces only (one informer per kind and namespace); undefined: all. */
  readonly namespaces: readonly string[] | undefined;
  readonly excludeNamespaces: ReadonlySet<string>;
  readonly logger: Logger;
  readonly onChange: () => void;
  readonly onRestart: (kind: string, reason: "relist" | "error") => void;
}

/** The informers of one kind (one per namespace, or one for all) and the objects they hold, converted. */
export interface KindInformers {
  readonly kind: WatchedKind;
  objects(): Converted[];
  count(): number;
  resourceVersion(): number;
  isSynced(): boolean;
  readonly synced: Promise<void>;
  stop(): Promise<void>;
}

/** Starts the informers of one kind. Objects in excluded namespaces are ignored on arrival. */
export function informKind(kind: WatchedKind, options: InformerSetOptions): KindInformers {
  const converted = new WeakMap<object, Converted>();
  const included = (obj: KubernetesObject) => !options.excludeNamespaces.has(obj.metadata?.namespace ?? "");
  const changed = (obj: KubernetesObject) => {
    if (included(obj)) options.onChange();
  };
  const informers: ResourceInformer<Raw>[] = (options.namespaces ?? [undefined]).map((namespace) =>
    createResourceInformer<Raw>({
      config: options.config,
      resource: {
        apiVersion: kind.apiVersion,
        kind: kind.kind,
        plural: kind.plural,
        ...(namespace && { namespace }),
      },
      reduce: (obj) => {
        reduceCommon(obj);
        kind.reduce?.(obj);
      },
      onAdd: changed,
      onUpdate: changed,
      onDelete: changed,
      onRestart: (reason, err) => {
        options.onRestart(kind.kind, reason);
        if (reason === "relist")
          options.logger.info({ kind: kind.kind, namespace }, "watch expired; relisting");
        else
          options.logger.warn({ err, kind: kind.kind, namespace }, "watch failed; restarting with backoff");
      },
    }),
  );
  for (const informer of informers) void informer.start();
  const convert = (obj: Raw): Converted[] => {
    let value = converted.get(obj);
    if (!value) {
      try {
        value = kind.convert(obj);
      } catch (err) {
        // A malformed object is left out rather than stopping discovery of everything else.
        options.logger.warn(
          { err, kind: kind.kind, namespace: obj.metadata?.namespace, name: obj.metadata?.name },
          "object not understood; ignored",
        );
        return [];
      }
      converted.set(obj, value);
    }
    return [value];
  };
  return {
    kind,
    objects: () => informers.flatMap((i) => i.list().filter(included).flatMap(convert)),
    count: () => informers.reduce((sum, i) => sum + i.list().filter(included).length, 0),
    resourceVersion: () => Math.max(0, ...informers.map((i) => i.resourceVersion())),
    isSynced: () => informers.every((i) => i.isSynced()),
    synced: Promise.all(informers.map((i) => i.synced)).then(() => undefined),
    stop: async () => {
      await Promise.all(informers.map((i) => i.stop()));
    },
  };
}
