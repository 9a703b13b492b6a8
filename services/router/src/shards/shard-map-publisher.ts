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

  /** Brings the bucket up to the store's newest versions (after a crash between the two writes). */
  async reconcile(): Promise<void> {
    for (const doc of await this.#store.latestMaps()) await this.#toBucket(doc);
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
      { database: doc.database, version: doc.version, ranges: doc.ranges },
      {
        subject: doc.database,
        id: `${doc.database}:shard-map:${doc.version}`,
        ...(correlationId !== undefined && { correlationId }),
      },
    );
    this.#logger.info({ database: doc.database, version: doc.version }, "shard map published");
  }
}
