import { type Bus, type BusKv, KvConflictError } from "@dbplane/bus";
import type { Logger } from "@dbplane/service-kit";
import { contentHash } from "../domain/fact-hash.ts";
import type { Inventory } from "../domain/inventory-types.ts";
import { factProblem, publishFactEvent } from "./fact-events.ts";
import {
  type Desired,
  type FactEventType,
  type FactKind,
  type FactRecord,
  factKey,
  factOfKey,
  isSameState,
  nextRecord,
} from "./fact-record.ts";

export interface FactPublisherOptions {
  readonly bus: Bus;
  readonly kv: BusKv<FactRecord>;
  /** Key prefix of this driver's facts (`kubernetes`, `local`). */
  readonly scope: string;
  readonly logger: Logger;
  readonly onPublished: (kind: FactKind, type: FactEventType) => void;
  /** Fact updates in flight at once. */
  readonly concurrency?: number;
}

export interface ReconcileSummary {
  readonly published: number;
  readonly stale: number;
}

type Outcome = "published" | "unchanged" | "stale";
type Known = { state: "present" | "lost"; hash: string };

/**
 * Publishes each fact once however many replicas see it: a replica writes the fact's new state to
 * the KV bucket by compare-and-set and only the replica whose write wins publishes the event; its
 * id `<fact id>:<content hash|lost>:<previous revision>` makes a re-publish after a crash (or by
 * a replica that finds the event still owed) a JetStream duplicate.
 */
export function createFactPublisher(options: FactPublisherOptions) {
  const { kv, scope, logger } = options;
  const known = new Map<string, Known>();
  /** Facts (by key and hash) already logged as refused by the contract, so each is logged once. */
  const refused = new Set<string>();

  async function owe(record: FactRecord, revision: number): Promise<void> {
    if (await publishFactEvent(options.bus, record)) options.onPublished(record.kind, record.event.type);
    try {
      await kv.update(factKey(scope, record.kind, record.id), { ...record, published: true }, revision);
    } catch (err) {
      // A newer state was written meanwhile; it carries its own event.
      if (!(err instanceof KvConflictError)) throw err;
    }
  }

  async function apply(
    kind: FactKind,
    id: string,
    desired: Desired | undefined,
    watermark: number,
  ): Promise<Outcome> {
    const key = factKey(scope, kind, id);
    for (let attempt = 0; attempt < 20; attempt++) {
      // The last entry, a delete marker included: a fact pruned earlier follows its marker, so
      // its new event gets a fresh id, not its first one again.
      const last = await kv.entry(key);
      const cur = last?.value;
      const current = cur && last ? { value: cur, revision: last.revision } : undefined;
      if (isSameState(cur, desired)) {
        if (cur && current && !cur.published) await owe(cur, current.revision);
        known.set(key, desired ? { state: "present", hash: desired.hash } : { state: "lost", hash: "" });
        return "unchanged";
      }
      if (cur && cur.watermark > watermark) return "stale";
      const record = nextRecord({ kind, id, desired, watermark }, cur?.state, last?.revision ?? 0);
      let revision: number;
      try {
        revision = current ? await kv.update(key, record, current.revision) : await kv.create(key, record);
      } catch (err) {
        if (err instanceof KvConflictError) continue;
        throw err;
      }
      await owe(record, revision);
      known.set(key, { state: record.state, hash: record.hash });
      return "published";
    }
    logger.warn({ kind, id }, "fact kept changing under contention; the next reconcile retries");
    return "stale";
  }

  return {
    /** Learns which facts the bucket holds, so facts gone while no replica ran are reported lost. */
    async load(): Promise<void> {
      const keys = await kv.keys(`${scope}.>`);
      await runLimited(keys, options.concurrency ?? 32, async (key) => {
        const entry = await kv.get(key);
        if (entry) known.set(key, { state: entry.value.state, hash: entry.value.hash });
      });
    },

    /**
     * Forgets facts reported lost at least `retentionMs` ago: their records leave the bucket
     * (compare-and-delete, so a fact that came back meanwhile stays) and this replica's memory.
     * A fact seen again later is `discovered` anew. Returns how many records this call removed.
     */
    async prune(retentionMs: number, now = Date.now()): Promise<number> {
      let pruned = 0;
      const lost = [...known].filter(([, have]) => have.state === "lost").map(([key]) => key);
      await runLimited(lost, options.concurrency ?? 32, async (key) => {
        const entry = await kv.get(key);
        if (!entry) {
          known.delete(key); // another replica pruned it
          return;
        }
        // Not yet announced, back again, or too recent: kept.
        if (entry.value.state !== "lost" || !entry.value.published) return;
        if (now - entry.created.getTime() < retentionMs) return;
        try {
          await kv.delete(key, entry.revision);
          pruned++;
          known.delete(key);
        } catch (err) {
          if (!(err instanceof KvConflictError)) throw err;
        }
      });
      return pruned;
    },

    /** Publishes the difference between what the driver sees now and the facts last published. */
    async reconcile(inventory: Inventory, watermark: number): Promise<ReconcileSummary> {
      const desired = new Map<string, Desired>();
      const add = (kind: FactKind, record: { id: string }) =>
        desired.set(factKey(scope, kind, record.id), {
          kind,
          id: record.id,
          data: { ...record },
          hash: contentHash(record),
        });
      for (const db of inventory.databases) add("database", db);
      for (const app of inventory.apps) add("app", app);
      const work: Array<() => Promise<Outcome>> = [];
      for (const [key, want] of desired) {
        const have = known.get(key);
        if (have?.state === "present" && have.hash === want.hash) continue;
        const problem = factProblem(want.kind, want.data);
        // A fact the contract refuses is left out (and logged) rather than failing every pass.
        if (problem) {
          if (!refused.has(`${key}:${want.hash}`))
            logger.warn({ kind: want.kind, id: want.id, problem }, "fact not publishable; left out");
          refused.add(`${key}:${want.hash}`);
        } else work.push(() => apply(want.kind, want.id, want, watermark));
      }
      for (const [key, have] of known) {
        const fact = factOfKey(key);
        if (have.state === "present" && !desired.has(key) && fact)
          work.push(() => apply(fact.kind, fact.id, undefined, watermark));
      }
      const outcomes = await runLimited(work, options.concurrency ?? 32, (job) => job());
      return {
        published: outcomes.filter((o) => o === "published").length,
        stale: outcomes.filter((o) => o === "stale").length,
      };
    },
  };
}

export type FactPublisher = ReturnType<typeof createFactPublisher>;

async function runLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
