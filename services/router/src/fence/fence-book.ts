import type { BusKv } from "@dbplane/bus";
import type { Logger } from "@dbplane/service-kit";
import type { FenceDocument } from "./fence-documents.ts";
import type { WritePlan } from "./write-fence.ts";

/** How long the fences watch may lag the bucket before it re-subscribes. */
const WATCH_STALL_AFTER_MS = 1_000;

/** A fence as this replica knows it, with the revision of its document. */
export interface KnownFence {
  readonly key: string;
  readonly doc: FenceDocument;
  readonly revision: number;
}

/**
 * The fences of the bucket as this replica knows them: read whole (at start, after a lapsed
 * lease), then followed. Each key's changes apply once, in revision order, whether they come from
 * a read or from the watch (which replays every key when it starts over).
 */
export class FenceBook {
  readonly #kv: BusKv<FenceDocument>;
  readonly #logger: Logger;
  readonly #onChange: () => void;
  /** By KV key; lifted fences with a map version stay (they gate writes planned by older maps). */
  readonly #fences = new Map<string, KnownFence>();
  /** Last revision seen per key (deletes included). */
  readonly #seen = new Map<string, number>();

  constructor(kv: BusKv<FenceDocument>, logger: Logger, onChange: () => void) {
    this.#kv = kv;
    this.#logger = logger;
    this.#onChange = onChange;
  }

  fences(): IterableIterator<KnownFence> {
    return this.#fences.values();
  }

  /** The fence holding a write, if one does: raised on one of its shards, or lifted for a newer map than it was planned by. */
  blocking(database: string, plan: WritePlan): FenceDocument | undefined {
    // The common case, once per statement: no fence at all, no iterator made.
    if (this.#fences.size === 0) return undefined;
    for (const { doc } of this.#fences.values()) {
      if (doc.database !== database || !plan.shards.includes(doc.shard)) continue;
      if (plan.read && !doc.reads) continue;
      if (doc.state === "raised") return doc;
      if (doc.mapVersion !== undefined && plan.mapVersion < doc.mapVersion) return doc;
    }
    return undefined;
  }

  /** Reads every fence. */
  async load(): Promise<void> {
    for (const key of await this.#kv.keys()) {
      const entry = await this.#kv.entry(key);
      if (entry) this.#apply(key, entry.value, entry.revision);
    }
  }

  /** Follows the bucket until `signal` aborts (the watch starts over after an error). */
  async follow(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        // A held write waits for what this watch brings: a stalled watch is re-subscribed after
        // 1 s behind the bucket (the bus's default, 5 s, would hold writes that long).
        for await (const change of this.#kv.watch(undefined, {
          signal,
          stallAfterMs: WATCH_STALL_AFTER_MS,
        })) {
          this.#apply(change.key, change.value, change.revision);
        }
      } catch (err) {
        if (signal.aborted) return;
        this.#logger.warn({ err }, "write fence: fence watch failed; restarting");
      }
      if (!signal.aborted) await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  #apply(key: string, doc: FenceDocument | undefined, revision: number): void {
    if ((this.#seen.get(key) ?? 0) >= revision) return;
    this.#seen.set(key, revision);
    const before = this.#fences.get(key)?.doc;
    // A fence lifted without a map version gates nothing any more.
    if (doc === undefined || (doc.state === "lifted" && doc.mapVersion === undefined))
      this.#fences.delete(key);
    else this.#fences.set(key, { key, doc, revision });
    if (doc?.state !== before?.state || doc?.mapVersion !== before?.mapVersion) {
      this.#logger.info(
        {
          fence: doc?.id ?? key,
          database: doc?.database ?? before?.database,
          shard: doc?.shard ?? before?.shard,
          state: doc?.state ?? "deleted",
          mapVersion: doc?.mapVersion,
        },
        "write fence changed",
      );
    }
    this.#onChange();
  }
}
