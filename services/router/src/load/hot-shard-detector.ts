import type { Bus } from "@dbplane/bus";
import { shardHot } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import type { Redis } from "ioredis";
import { type HotShardPolicy, hotShards, SustainedHeat } from "../domain/hot-shards.ts";
import type { RouterMetrics } from "../router-metrics.ts";
import type { ShardMapRegistry } from "../shards/shard-map-registry.ts";
import type { LoadWindow, ShardLoad } from "./load-window.ts";

export interface HotShardDetectorOptions extends HotShardPolicy {
  readonly maps: ShardMapRegistry;
  readonly load: LoadWindow;
  readonly metrics: RouterMetrics;
  readonly bus: Bus;
  readonly redis: Redis;
  readonly redisPrefix: string;
  readonly sustainMs: number;
  readonly cooldownMs: number;
  readonly checkMs: number;
  readonly logger: Logger;
  /** Called once per reported heat, after `shard.hot` is out (the autoSplit policy acts on it). */
  readonly onReport?: (h: HotShardReport) => Promise<unknown>;
}

export interface HotShardReport {
  readonly database: string;
  readonly shard: number;
  readonly rate: number;
  readonly medianRate: number;
  readonly multiple: number;
}

/**
 * Every `checkMs`: reads the cross-replica window of every shard, exports it as metrics, and
 * reports a shard that stayed hot for `sustainMs` with `shard.hot`. Every replica checks; a Redis
 * claim (SET NX with the cooldown as expiry) lets exactly one of them report a given heat.
 */
export class HotShardDetector {
  readonly #o: HotShardDetectorOptions;
  readonly #heat = new SustainedHeat();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  /** The last window read, for `GET shards`. */
  latest = new Map<string, ShardLoad>();
  /** The shards hot in the last window read (sustained or not), for the rebalance check. */
  hotNow: HotShardReport[] = [];

  constructor(options: HotShardDetectorOptions) {
    this.#o = options;
  }

  start(): void {
    const tick = () => {
      this.#running = this.check()
        .catch((err) => this.#o.logger.warn({ err }, "hot-shard check failed"))
        .finally(() => {
          if (this.#timer !== undefined) this.#timer = setTimeout(tick, this.#o.checkMs).unref();
        });
    };
    this.#timer = setTimeout(tick, this.#o.checkMs).unref();
  }

  async check(now = Date.now()): Promise<void> {
    const maps = this.#o.maps.all();
    const targets = maps.flatMap((m) =>
      [...m.shards.values()]
        .filter((s) => s.ranges.length > 0)
        .map((s) => ({ database: m.database, shard: s.index })),
    );
    const loads = await this.#o.load.read(targets);
    this.#o.metrics.setWindow(loads);
    this.latest = new Map(loads.map((l) => [`${l.database}:${l.shard}`, l]));
    const hot = new Map<
      string,
      { database: string; shard: number; rate: number; medianRate: number; multiple: number }
    >();
    for (const map of maps) {
      const rates = loads
        .filter((l) => l.database === map.database)
        .map((l) => ({ shard: l.shard, rate: l.queryRate }));
      for (const h of hotShards(rates, this.#o))
        hot.set(`${map.database}:${h.shard}`, { database: map.database, ...h });
    }
    this.hotNow = [...hot.values()];
    const due = this.#heat.observe(new Set(hot.keys()), this.latest.keys(), now, this.#o.sustainMs);
    for (const key of due) await this.#report(hot.get(key)!, now);
  }

  async #report(
    h: { database: string; shard: number; rate: number; medianRate: number; multiple: number },
    now: number,
  ): Promise<void> {
    const claim = `${this.#o.redisPrefix}hot:${h.database}:${h.shard}`;
    const won = await this.#o.redis.set(claim, String(now), "PX", this.#o.cooldownMs, "NX");
    if (won !== "OK") return;
    const windowSeconds = this.latest.get(`${h.database}:${h.shard}`)?.windowSeconds ?? 1;
    await this.#o.bus.publish(
      shardHot,
      {
        database: h.database,
        shard: h.shard,
        rate: h.rate,
        medianRate: h.medianRate,
        multiple: h.multiple,
        windowSeconds,
        detectedAt: new Date(now).toISOString(),
      },
      // The claim's start names this heat: a retry of the same report is deduplicated.
      { subject: `${h.database}/shards/${h.shard}`, id: `${h.database}:${h.shard}:hot:${now}` },
    );
    this.#o.logger.warn(
      { database: h.database, shard: h.shard, rate: h.rate, medianRate: h.medianRate },
      "hot shard reported",
    );
    await this.#o.onReport?.(h);
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
