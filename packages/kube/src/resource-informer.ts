import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  KubernetesObjectApi,
  makeInformer,
} from "@kubernetes/client-node";

/** Which objects an informer watches: a resource, in one namespace or in all. */
export interface InformedResource {
  /** `apps/v1`, `v1`, `postgresql.cnpg.io/v1`. */
  readonly apiVersion: string;
  readonly kind: string;
  /** Lower-case plural as in URLs: `statefulsets`. */
  readonly plural: string;
  /** Omit for every namespace. */
  readonly namespace?: string;
}

export interface ResourceInformerOptions<T extends KubernetesObject> {
  readonly config: KubeConfig;
  readonly resource: InformedResource;
  /**
   * Reduces each object in place as it arrives, before anything else sees it and for as long as
   * the cache holds it (e.g. drop a Secret's values). Runs on list items and watch events alike.
   */
  readonly reduce?: (obj: T) => void;
  readonly onAdd?: (obj: T) => void;
  readonly onUpdate?: (obj: T) => void;
  readonly onDelete?: (obj: T) => void;
  /** A relist (after 410 Gone) or a restart after an error; `err` for the latter. */
  readonly onRestart?: (reason: "relist" | "error", err?: unknown) => void;
  /** First retry delay after an error; doubles to `maxRetryDelayMs`. Default 1 s, 30 s. */
  readonly retryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
  /** Items per list page. Default 500. */
  readonly pageSize?: number;
}

/** A running informer: its cache and the newest resourceVersion it has seen. */
export interface ResourceInformer<T extends KubernetesObject> {
  list(): readonly T[];
  /** The newest resourceVersion seen (list or event), as a number; 0 before the first list. */
  resourceVersion(): number;
  /**
   * Lists and starts watching. Resolves after the first attempt; a failed list is retried with
   * backoff, so wait for `synced` to know the cache holds the cluster's objects.
   */
  start(): Promise<void>;
  /** Resolves when a list has succeeded (the cache is complete) for the first time. */
  readonly synced: Promise<void>;
  /** Whether a list has succeeded. */
  isSynced(): boolean;
  stop(): Promise<void>;
}

/** `/apis/apps/v1/namespaces/ns/statefulsets` or `/api/v1/configmaps`. */
export function resourcePath(resource: InformedResource): string {
  const base = resource.apiVersion.includes("/")
    ? `/apis/${resource.apiVersion}`
    : `/api/${resource.apiVersion}`;
  return `${base}${resource.namespace ? `/namespaces/${resource.namespace}` : ""}/${resource.plural}`;
}

/** Every object of the resource, page by page; the resourceVersion of the first page (a consistent snapshot). */
async function listPages<T extends KubernetesObject>(
  objects: KubernetesObjectApi,
  resource: InformedResource,
  pageSize: number,
  reduce: ((obj: T) => void) | undefined,
): Promise<KubernetesListObject<T>> {
  const items: T[] = [];
  let token: string | undefined;
  let resourceVersion: string | undefined;
  do {
    const page = await objects.list<T>(
      resource.apiVersion,
      resource.kind,
      resource.namespace,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      pageSize,
      token,
    );
    resourceVersion ??= page.metadata?.resourceVersion;
    for (const item of page.items) {
      reduce?.(item);
      items.push(item);
    }
    token = page.metadata?._continue || undefined;
  } while (token);
  return {
    apiVersion: resource.apiVersion,
    kind: `${resource.kind}List`,
    metadata: { resourceVersion },
    items,
  };
}

/**
 * client-node's `makeInformer` (list, then watch from the list's resourceVersion; a 410 Gone
 * makes it relist, calling delete for what vanished meanwhile) plus what it leaves to the caller:
 * paged lists, in-place reduction of objects, and a restart with backoff after an error (it
 * stops for good on anything but 410 and timeouts).
 */
export function createResourceInformer<T extends KubernetesObject>(
  options: ResourceInformerOptions<T>,
): ResourceInformer<T> {
  const { resource, reduce } = options;
  const objects = KubernetesObjectApi.makeApiClient(options.config);
  let stopped = false;
  let retryDelay = options.retryDelayMs ?? 1_000;
  let retryTimer: NodeJS.Timeout | undefined;
  let latest = 0;
  let synced = false;
  let markSynced = () => {};
  const syncedPromise = new Promise<void>((resolve) => {
    markSynced = resolve;
  });
  const seen = (rv: string | undefined) => {
    const n = Number(rv);
    if (Number.isSafeInteger(n) && n > latest) latest = n;
  };

  const listAll = async (): Promise<KubernetesListObject<T>> => {
    if (synced) options.onRestart?.("relist");
    const list = await listPages(objects, resource, options.pageSize ?? 500, reduce);
    seen(list.metadata?.resourceVersion);
    synced = true;
    // The cache is filled from these items right after this returns, before any watch event.
    setImmediate(markSynced);
    retryDelay = options.retryDelayMs ?? 1_000;
    return list;
  };

  const informer = makeInformer<T>(options.config, resourcePath(resource), listAll);
  const handle = (callback: ((obj: T) => void) | undefined) => (obj: T) => {
    // Events flow again: the next failure starts its backoff from the beginning.
    retryDelay = options.retryDelayMs ?? 1_000;
    reduce?.(obj);
    seen(obj.metadata?.resourceVersion);
    callback?.(obj);
  };
  informer.on("add", handle(options.onAdd));
  informer.on("update", handle(options.onUpdate));
  informer.on("delete", handle(options.onDelete));
  informer.on("error", (err: unknown) => {
    if (stopped) return;
    options.onRestart?.("error", err);
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      if (!stopped) void informer.start();
    }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, options.maxRetryDelayMs ?? 30_000);
  });

  return {
    list: () => informer.list(),
    resourceVersion: () => latest,
    synced: syncedPromise,
    isSynced: () => synced,
    start: () => {
      stopped = false;
      return informer.start();
    },
    async stop() {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      await informer.stop();
    },
  };
}
