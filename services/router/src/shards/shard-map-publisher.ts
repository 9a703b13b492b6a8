import type { Bus, BusKv } from "@dbplane/bus";
import { shardMapPublished } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import type { ShardMapDocument } from "../domain/shard-map.ts";
import type { RouterStore } from "../store/router-store.ts";

/**
 * Writes a new map version: PostgreSQL first (the source of truth; the primary key makes the
 * version unique), then the KV bucket by compare-and-set so the bucket only ever moves forward,
 * then `shard-map.published`. A crash between the steps is repaired by `reconcile` at start-up.
 */
export class ShardMapPublisher {
  readonly #store: RouterStore;
  readonly #kv: BusKv<ShardMapDocument>;
  readonly #bus: Bus;
  readonly #logger: Logger;

  constructor(store: RouterStore, kv: BusKv<ShardMapDocument>, bus: Bus, logger: Logger) {
    this.#store = store;
    this.#kv = kv;
    this.#bus = bus;
    this.#logger = logger;
  }

  /** Stores and publishes `doc`; ShardMapVersionConflictError if its version is not the next one. */
  async publish(doc: ShardMapDocument, correlationId?: string): Promise<void> {
    await this.#store.insertMap(doc);
    await this.#toBucket(doc, correlationId);
  }

  /**
   * Brings the bucket in line with the store after a crash between the two writes: the newest
   * version of every stored map in, the maps of databases the store has forgotten out.
   */
  async reconcile(): Promise<void> {
    const stored = await this.#store.latestMaps();
    for (const doc of stored) await this.#toBucket(doc);
    const known = new Set(stored.map((d) => d.database));
    for (const key of await this.#kv.keys()) if (!known.has(key)) await this.#fromBucket(key);
  }

  /** A deleted database: store first (so a crash before the bucket is repaired by `reconcile`). */
  async retire(database: string): Promise<boolean> {
    const forgotten = await this.#store.forgetDatabase(database);
    await this.#fromBucket(database);
    return forgotten;
  }

  async #fromBucket(database: string): Promise<void> {
    // Every replica watching the bucket drops the map and closes its pools on the delete marker.
    await this.#kv.delete(database);
    this.#logger.info({ database }, "shard map withdrawn");
  }

  async #toBucket(doc: ShardMapDocument, correlationId?: string): Promise<void> {
    let wrote = false;
    await this.#kv.updateWith(doc.database, (current) => {
      wrote = !current || current.version < doc.version;
      return wrote ? doc : undefined;
    });
    if (!wrote) return;
    // The event follows the bucket write; its id is the fact (database, version), so a retry is
    // absorbed by the duplicate window. Emitted only by the writer that moved the bucket.
    await this.#bus.publish(
      shardMapPublished,
      // createdAt: when the version took force, which a bucket write retried after a crash is not.
      { database: doc.database, version: doc.version, ranges: doc.ranges, createdAt: doc.createdAt },
      {
        subject: doc.database,
        id: `${doc.database}:shard-map:${doc.version}`,
        ...(correlationId !== undefined && { correlationId }),
      },
    );
    this.#logger.info({ database: doc.database, version: doc.version }, "shard map published");
  }
}
