import type { Logger } from "@dbplane/service-kit";
import type { Redis } from "ioredis";

/** One shard's load over the sliding window, summed over every router replica. */
export interface ShardLoad {
  readonly database: string;
  readonly shard: number;
  /** Queries per second. */
  readonly queryRate: number;
  /** Failed queries per second. */
  readonly errorRate: number;
  /** Mean latency in milliseconds (0 without queries). */
  readonly meanLatencyMs: number;
  readonly windowSeconds: number;
}

interface Counts {
  queries: number;
  errors: number;
  latencyUs: number;
}

/**
 * Per-shard load across router replicas. Each replica counts locally and adds its counts to a
 * Redis hash per (database, shard, second) every flush; a window read sums the last N seconds.
 * One Redis round trip per flush instead of per query keeps Redis off the query path.
 */
export class LoadWindow {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #windowSeconds: number;
  readonly #logger: Logger;
  #pending = new Map<string, Counts>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(redis: Redis, options: { prefix: string; windowSeconds: number; logger: Logger }) {
    this.#redis = redis;
    this.#prefix = options.prefix;
    this.#windowSeconds = options.windowSeconds;
    this.#logger = options.logger;
  }

  /** Counts one query; cheap and synchronous (the hot path). */
  record(database: string, shard: number, ok: boolean, latencyMs: number): void {
    const key = `${database}:${shard}`;
    let c = this.#pending.get(key);
    if (!c) {
      c = { queries: 0, errors: 0, latencyUs: 0 };
      this.#pending.set(key, c);
    }
    c.queries++;
    if (!ok) c.errors++;
    c.latencyUs += Math.round(latencyMs * 1000);
  }

  start(flushMs: number): void {
    this.#timer = setInterval(() => {
      this.#flushing = this.flush();
    }, flushMs);
    this.#timer.unref();
  }

  /** Adds the local counts to the current second's Redis hashes. */
  async flush(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = this.#pending;
    this.#pending = new Map();
    const second = Math.floor(Date.now() / 1000);
    const multi = this.#redis.multi();
    for (const [key, c] of batch) {
      const k = `${this.#prefix}load:${key}:${second}`;
      multi.hincrby(k, "q", c.queries).hincrby(k, "e", c.errors).hincrby(k, "l", c.latencyUs);
      multi.expire(k, this.#windowSeconds * 2 + 5);
    }
    try {
      await multi.exec();
    } catch (err) {
      // Counts of this flush are lost rather than retried: load figures are advisory and a
      // Redis outage must not grow the router's memory without bound.
      this.#logger.warn({ err }, "could not add load counts to Redis");
    }
  }

  /** The window's load of each given shard. */
  async read(shards: readonly { database: string; shard: number }[]): Promise<ShardLoad[]> {
    if (shards.length === 0) return [];
    const now = Math.floor(Date.now() / 1000);
    const pipeline = this.#redis.pipeline();
    for (const { database, shard } of shards) {
      // The current second is still filling; the window is the N complete seconds before it.
      for (let s = now - this.#windowSeconds; s < now; s++)
        pipeline.hgetall(`${this.#prefix}load:${database}:${shard}:${s}`);
    }
    const replies = (await pipeline.exec()) ?? [];
    return shards.map(({ database, shard }, i) => {
      const sum = { q: 0, e: 0, l: 0 };
      for (let j = 0; j < this.#windowSeconds; j++) {
        const [err, value] = replies[i * this.#windowSeconds + j] ?? [null, {}];
        if (err) throw err;
        const h = value as Record<string, string>;
        sum.q += Number(h.q ?? 0);
        sum.e += Number(h.e ?? 0);
        sum.l += Number(h.l ?? 0);
      }
      return {
        database,
        shard,
        queryRate: sum.q / this.#windowSeconds,
        errorRate: sum.e / this.#windowSeconds,
        meanLatencyMs: sum.q === 0 ? 0 : sum.l / sum.q / 1000,
        windowSeconds: this.#windowSeconds,
      };
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#flushing;
    await this.flush();
  }
}
