import { isObject, type JsonObject } from "./patches.ts";
import { type ResourceDefinition, resourceKey } from "./resource-registry.ts";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

/** One change, kept in the bounded history that watches replay from a resourceVersion. */
export interface StoredEvent {
  readonly type: WatchEventType;
  readonly resourceKey: string;
  readonly namespace: string;
  readonly resourceVersion: number;
  readonly object: JsonObject;
  /** The object before the change, so label-filtered watches can turn edits into ADDED/DELETED. */
  readonly previous: JsonObject | undefined;
}

export interface StoreSubscriber {
  onEvent(event: StoredEvent): void;
  /** The store dropped its history (`expireWatches`): the watch must end. */
  onExpire(): void;
}

function metadataOf(obj: JsonObject): JsonObject {
  if (!isObject(obj.metadata)) obj.metadata = {};
  return obj.metadata as JsonObject;
}

function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/**
 * The double's etcd: objects per resource, one global resourceVersion counter, and a bounded
 * event history. Everything is synchronous, so replay-then-subscribe cannot miss an event.
 */
export class ObjectStore {
  readonly #objects = new Map<string, Map<string, JsonObject>>();
  readonly #history: StoredEvent[] = [];
  readonly #subscribers = new Set<StoreSubscriber>();
  readonly #undelivered: StoredEvent[] = [];
  #delivering = false;
  readonly #historyLimit: number;
  #resourceVersion = 0;
  /** Watches must start after this resourceVersion; older ones are answered with 410 Gone. */
  #compactedTo = 0;

  constructor(historyLimit: number) {
    this.#historyLimit = historyLimit;
  }

  get resourceVersion(): number {
    return this.#resourceVersion;
  }

  get compactedTo(): number {
    return this.#compactedTo;
  }

  #bucket(def: ResourceDefinition): Map<string, JsonObject> {
    const key = resourceKey(def);
    let bucket = this.#objects.get(key);
    if (!bucket) {
      bucket = new Map();
      this.#objects.set(key, bucket);
    }
    return bucket;
  }

  get(def: ResourceDefinition, namespace: string, name: string): JsonObject | undefined {
    const found = this.#bucket(def).get(objectKey(namespace, name));
    return found ? structuredClone(found) : undefined;
  }

  /** Objects of a resource, in one namespace or all, ordered by namespace then name. */
  list(def: ResourceDefinition, namespace?: string): JsonObject[] {
    const entries = [...this.#bucket(def).entries()]
      .filter(([key]) => namespace === undefined || key.startsWith(`${namespace}/`))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return entries.map(([, obj]) => structuredClone(obj));
  }

  /** Stores a new or changed object under the next resourceVersion and tells the watches. */
  write(def: ResourceDefinition, obj: JsonObject): JsonObject {
    const meta = metadataOf(obj);
    const namespace = String(meta.namespace ?? "");
    const key = objectKey(namespace, String(meta.name));
    const bucket = this.#bucket(def);
    const previous = bucket.get(key);
    meta.resourceVersion = String(++this.#resourceVersion);
    const stored = structuredClone(obj);
    bucket.set(key, stored);
    this.#record(def, previous ? "MODIFIED" : "ADDED", namespace, stored, previous);
    return structuredClone(stored);
  }

  /** Removes an object; the DELETED event carries it under a fresh resourceVersion. */
  remove(def: ResourceDefinition, namespace: string, name: string): JsonObject | undefined {
    const bucket = this.#bucket(def);
    const key = objectKey(namespace, name);
    const previous = bucket.get(key);
    if (!previous) return undefined;
    bucket.delete(key);
    const gone = structuredClone(previous);
    metadataOf(gone).resourceVersion = String(++this.#resourceVersion);
    this.#record(def, "DELETED", namespace, gone, previous);
    return structuredClone(gone);
  }

  #record(
    def: ResourceDefinition,
    type: WatchEventType,
    namespace: string,
    object: JsonObject,
    previous: JsonObject | undefined,
  ): void {
    const event: StoredEvent = {
      type,
      resourceKey: resourceKey(def),
      namespace,
      resourceVersion: this.#resourceVersion,
      object,
      previous,
    };
    this.#history.push(event);
    if (this.#history.length > this.#historyLimit) {
      const dropped = this.#history.splice(0, this.#history.length - this.#historyLimit);
      this.#compactedTo = dropped.at(-1)!.resourceVersion;
    }
    this.#deliver(event);
  }

  /** Delivers in resourceVersion order even when a subscriber writes while being told of a change. */
  #deliver(event: StoredEvent): void {
    this.#undelivered.push(event);
    if (this.#delivering) return;
    this.#delivering = true;
    try {
      for (let next = this.#undelivered.shift(); next; next = this.#undelivered.shift()) {
        for (const subscriber of [...this.#subscribers]) subscriber.onEvent(next);
      }
    } finally {
      this.#delivering = false;
    }
  }

  /** Events after `resourceVersion`, or undefined when history no longer reaches back that far. */
  eventsSince(resourceVersion: number): StoredEvent[] | undefined {
    if (resourceVersion < this.#compactedTo) return undefined;
    return this.#history.filter((event) => event.resourceVersion > resourceVersion);
  }

  subscribe(subscriber: StoreSubscriber): () => void {
    this.#subscribers.add(subscriber);
    return () => this.#subscribers.delete(subscriber);
  }

  /**
   * Forgets the history as an etcd compaction would and ends every open watch, so a client
   * resuming from any resourceVersion it has seen gets 410 Gone and must relist.
   */
  expire(): void {
    this.#resourceVersion++;
    this.#compactedTo = this.#resourceVersion;
    this.#history.length = 0;
    for (const subscriber of [...this.#subscribers]) subscriber.onExpire();
  }
}
