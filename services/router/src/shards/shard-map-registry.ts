import type { BusKv, KvWatch, KvWatchResumeReason } from "@dbplane/bus";
import type { Logger } from "@dbplane/service-kit";
import type { ShardMapDocument } from "../domain/shard-map.ts";
import { buildLiveMap, type LiveMap, releaseLiveMap } from "./live-map.ts";
import type { ServerPoolRegistry } from "./server-pool-registry.ts";

/** Called after a database's map changed in this replica; `previous` is undefined at first sight. */
export type SwapListener = (map: LiveMap, previous: LiveMap | undefined) => void;

/**
 * This replica's view of every shard map, fed by the KV bucket. Versions only move forward: an
 * older or equal version arriving late (a replayed watch, a slow replica's write) is ignored.
 * The swap is one assignment to a Map entry — requests that already read the old LiveMap keep it.
 */
export class ShardMapRegistry {
  readonly #maps = new Map<string, LiveMap>();
  /** Per-database chain so two versions arriving together are applied in order. */
  readonly #applying = new Map<string, Promise<void>>();
  readonly #listeners: SwapListener[] = [];
  readonly #resumeListeners: ((reason: KvWatchResumeReason) => void)[] = [];
  readonly #kv: BusKv<ShardMapDocument>;
  readonly #pools: ServerPoolRegistry;
  readonly #logger: Logger;
  readonly #abort = new AbortController();
  #watching: Promise<void> | undefined;
  #watch: KvWatch<ShardMapDocument> | undefined;

  readonly #stallAfterMs: number | undefined;

  /** `stallAfterMs`: how long the watch may lag the bucket before it re-subscribes (the bus's default otherwise). */
  constructor(
    kv: BusKv<ShardMapDocument>,
    pools: ServerPoolRegistry,
    logger: Logger,
    options: { readonly stallAfterMs?: number } = {},
  ) {
    this.#stallAfterMs = options.stallAfterMs;
    this.#kv = kv;
    this.#pools = pools;
    this.#logger = logger;
  }

  get(database: string): LiveMap | undefined {
    return this.#maps.get(database);
  }

  all(): LiveMap[] {
    return [...this.#maps.values()];
  }

  /** True from `start` until `stop`: the replica follows the bucket (the watch restarts on errors). */
  get watching(): boolean {
    return this.#watching !== undefined && !this.#abort.signal.aborted;
  }

  /**
   * For how long this replica has seen the bucket hold a map change it has not received (0 when
   * current). The watch re-subscribes by itself after a few seconds; a view that stays behind
   * longer is what readiness and `dbplane_router_shard_map_behind_seconds` report.
   */
  behindMs(): number {
    return this.#watch?.behindMs() ?? 0;
  }

  onSwap(listener: SwapListener): void {
    this.#listeners.push(listener);
  }

  /** Called each time the watch re-subscribes (it fell behind the bucket, or its subscription ended). */
  onWatchResume(listener: (reason: KvWatchResumeReason) => void): void {
    this.#resumeListeners.push(listener);
  }

  /** Loads every map in the bucket, then follows changes until `stop`. */
  async start(): Promise<void> {
    for (const key of await this.#kv.keys()) {
      const entry = await this.#kv.get(key);
      if (entry) await this.apply(entry.value);
    }
    this.#watching = this.#follow();
  }

  async #follow(): Promise<void> {
    while (!this.#abort.signal.aborted) {
      try {
        this.#watch = this.#kv.watch(undefined, {
          signal: this.#abort.signal,
          ...(this.#stallAfterMs !== undefined && { stallAfterMs: this.#stallAfterMs }),
          onResume: (reason, delivered) => {
            this.#logger.warn({ reason, delivered, bucket: this.#kv.bucket }, "shard map watch resumed");
            for (const listener of this.#resumeListeners) listener(reason);
          },
        });
        for await (const change of this.#watch) {
          if (change.value) await this.apply(change.value);
          else if (change.operation !== "PUT") await this.withdraw(change.key);
        }
      } catch (err) {
        if (this.#abort.signal.aborted) return;
        this.#logger.warn({ err, bucket: this.#kv.bucket }, "shard map watch failed; restarting");
      }
      if (!this.#abort.signal.aborted) await new Promise((r) => setTimeout(r, 500));
    }
  }

  /**
   * Reads `database`'s map from the bucket and installs it if newer: for a caller that knows a
   * newer version exists (a lifted fence names it) while the watch has not brought it yet.
   */
  async refresh(database: string): Promise<void> {
    const entry = await this.#kv.get(database);
    if (entry?.value) await this.apply(entry.value);
  }

  /** Installs `doc` if it is newer than what this replica routes by. */
  apply(doc: ShardMapDocument): Promise<void> {
    const previous = this.#applying.get(doc.database) ?? Promise.resolve();
    const next = previous.then(() => this.#install(doc));
    this.#applying.set(
      doc.database,
      next.catch(() => {}),
    );
    return next;
  }

  /** The database was deleted: stop routing to it and close its pools (queries already running finish). */
  withdraw(database: string): Promise<void> {
    const previous = this.#applying.get(database) ?? Promise.resolve();
    const next = previous.then(() => {
      const current = this.#maps.get(database);
      if (!current) return;
      this.#maps.delete(database);
      releaseLiveMap(current, this.#pools);
      this.#logger.info({ database, version: current.version }, "shard map withdrawn; database deleted");
    });
    this.#applying.set(
      database,
      next.catch(() => {}),
    );
    return next;
  }

  async #install(doc: ShardMapDocument): Promise<void> {
    const current = this.#maps.get(doc.database);
    if (current && current.version >= doc.version) return;
    const map = await buildLiveMap(doc, this.#pools);
    this.#maps.set(doc.database, map);
    if (current) releaseLiveMap(current, this.#pools);
    this.#logger.info(
      { database: doc.database, version: doc.version, previous: current?.version },
      "shard map installed",
    );
    for (const listener of this.#listeners) listener(map, current);
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#watching;
  }
}
