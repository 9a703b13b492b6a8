import type { JetStreamManager } from "@nats-io/jetstream";
import type { KV, KvEntry } from "@nats-io/kv";

/** A change seen by `watch`; `value` is undefined for deletes and purges. */
export interface KvChange<T> {
  readonly key: string;
  readonly operation: "PUT" | "DEL" | "PURGE";
  readonly value: T | undefined;
  readonly revision: number;
}

export interface KvWatchOptions {
  /** Only changes after the watch started, not each key's current value. */
  readonly updatesOnly?: boolean;
  /** Ends the iteration. */
  readonly signal?: AbortSignal;
  /**
   * How long the bucket may hold a revision this watch has received nothing of before the watch
   * re-subscribes from the last revision it delivered. Default 5 s.
   */
  readonly stallAfterMs?: number;
  /** Called at each re-subscription, with why. */
  readonly onResume?: (reason: KvWatchResumeReason, delivered: number) => void;
}

/** Why a watch re-subscribed: it saw the bucket ahead of it, or its subscription ended. */
export type KvWatchResumeReason = "stalled" | "ended";

/**
 * The changes of the keys a watch follows, in revision order, each once, and where the watch
 * stands against the bucket: what a replica needs to know whether its view is current.
 */
export interface KvWatch<T> extends AsyncIterable<KvChange<T>> {
  /** The revision of the last change handed out (0 before the first). */
  readonly delivered: number;
  /** Re-subscriptions so far (a stall noticed, or the subscription ended under it). */
  readonly restarts: number;
  /** The bucket's latest revision among the followed keys (0 if none): one server round trip. */
  latest(): Promise<number>;
  /**
   * For how long (ms) the bucket has been seen ahead of what the watch received, as of the last
   * check; 0 when current. Checks run every `stallAfterMs / 2` while the watch is iterated.
   */
  behindMs(): number;
}

const DEFAULT_STALL_AFTER_MS = 5_000;

type Watcher = Awaited<ReturnType<KV["watch"]>>;

/**
 * Why this exists: nats.js's KV watch is an ordered push consumer that notices a lost consumer
 * (deleted, or gone with a server restart) only after two missed idle heartbeats — 60 s —
 * and meanwhile delivers nothing. A watch here compares, every `stallAfterMs / 2`, the bucket's
 * latest revision among its keys with what it has received; when the bucket has been ahead for
 * `stallAfterMs` with nothing waiting to be handed out, it re-subscribes from the last revision
 * it delivered. Revisions at or below that are skipped, so a resumed watch never repeats a
 * change (with history 1 it may skip values overwritten meanwhile, never the last one).
 */
export function watchKv<T>(
  kv: KV,
  jsm: JetStreamManager,
  bucket: string,
  decode: (entry: KvEntry) => T,
  keyFilter: string | undefined,
  options: KvWatchOptions,
): KvWatch<T> {
  const stallAfterMs = options.stallAfterMs ?? DEFAULT_STALL_AFTER_MS;
  const stream = `KV_${bucket}`;
  const lastBySubject = `$KV.${bucket}.${keyFilter ?? ">"}`;
  let delivered = 0;
  let received = 0;
  let restarts = 0;
  let behindSince: number | undefined;
  let checkedAt = 0;

  const latest = async () =>
    (await jsm.streams.getMessage(stream, { last_by_subj: lastBySubject }))?.seq ?? 0;

  async function* iterate(): AsyncGenerator<KvChange<T>> {
    const { signal } = options;
    if (signal?.aborted) return;
    // An updates-only watch starts level with the bucket: what came before is not owed.
    if (options.updatesOnly) delivered = received = await latest();
    let current: Watcher | undefined;
    let stalled = false;
    const onAbort = () => current?.stop();
    signal?.addEventListener("abort", onAbort, { once: true });
    const check = async () => {
      const watcher = current;
      if (!watcher) return;
      const head = await latest().catch(() => undefined);
      if (head === undefined) return; // no answer (NATS down): the reconnect will tell
      checkedAt = Date.now();
      if (head <= received || watcher.getPending() > 0) {
        behindSince = undefined;
        return;
      }
      behindSince ??= checkedAt;
      if (checkedAt - behindSince >= stallAfterMs && watcher === current) {
        stalled = true;
        watcher.stop();
      }
    };
    const timer = setInterval(() => void check(), Math.max(50, stallAfterMs / 2));
    timer.unref();
    try {
      while (!signal?.aborted) {
        current = await kv.watch({
          ...(keyFilter !== undefined && { key: keyFilter }),
          ...(delivered > 0 || options.updatesOnly ? { resumeFromRevision: delivered + 1 } : {}),
        });
        if (signal?.aborted) break;
        for await (const entry of current) {
          received = Math.max(received, entry.revision);
          if (entry.revision <= delivered) continue;
          delivered = entry.revision;
          yield {
            key: entry.key,
            operation: entry.operation,
            value: entry.operation === "PUT" ? decode(entry) : undefined,
            revision: entry.revision,
          };
        }
        if (signal?.aborted) break;
        restarts++;
        behindSince = undefined;
        options.onResume?.(stalled ? "stalled" : "ended", delivered);
        stalled = false;
      }
    } finally {
      clearInterval(timer);
      signal?.removeEventListener("abort", onAbort);
      current?.stop();
    }
  }

  return {
    get delivered() {
      return delivered;
    },
    get restarts() {
      return restarts;
    },
    latest,
    behindMs: () => (behindSince === undefined ? 0 : checkedAt - behindSince),
    [Symbol.asyncIterator]: () => iterate(),
  };
}
