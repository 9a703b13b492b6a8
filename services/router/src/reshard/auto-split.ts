import type { ShardLoadSampled } from "@dbplane/contracts";
import { ConflictError, type Logger } from "@dbplane/service-kit";
import type pg from "pg";
import { z } from "zod";
import type { HotShardReport } from "../load/hot-shard-detector.ts";
import type { ShardMapRegistry } from "../shards/shard-map-registry.ts";
import { type RouterTables, routerTables } from "../store/schema-tables.ts";
import type { ReshardService } from "./reshard-service.ts";

/** Collector heat older than this (no sample since) is ignored by the rebalance check. */
const HEAT_FRESH_MS = 5 * 60_000;

/** A database's autoSplit policy; off unless turned on. */
export const autoSplitPolicy = z.strictObject({
  enabled: z.boolean().default(false).describe("Split hot or big shards without a person"),
  onHot: z
    .boolean()
    .default(true)
    .describe("Act on the router's own hot-shard signal (query rate, see DBPLANE_ROUTER_HOT_*)"),
  maxSizeBytes: z
    .int()
    .min(1)
    .optional()
    .describe("Split a shard whose database stays larger than this (collector's shard.load-sampled)"),
  maxConnections: z
    .int()
    .min(1)
    .optional()
    .describe("Split a shard that keeps more open connections than this (collector's shard.load-sampled)"),
  sustainMs: z
    .int()
    .min(0)
    .max(86_400_000)
    .default(300_000)
    .describe("How long a collector threshold must hold before it counts"),
  cooldownMs: z
    .int()
    .min(0)
    .max(30 * 86_400_000)
    .default(3_600_000)
    .describe("No automatic split of the database within this long of the last one"),
  maxShards: z.int().min(2).max(1024).default(16).describe("Never split past this many shards"),
});
export type AutoSplitPolicy = z.output<typeof autoSplitPolicy>;

export type AutoSplitDecision = "split" | "off" | "cooldown" | "max-shards" | "busy" | "unknown";

/** Why a shard is considered: the signal and its inputs, as `reshard.started` carries them. */
export interface SplitSignal {
  readonly database: string;
  readonly shard: number;
  readonly reason: string;
}

/**
 * The autoSplit policy: per database in the router's schema; acts on the hot-shard detector's
 * reports and on the collector's samples (size, connections) sustained for `sustainMs`. With the
 * policy off a hot shard is only reported (`shard.hot`); with it on, it is split unless the
 * database is in its cooldown, at its maximum shard count, or already resharding.
 */
export class AutoSplitter {
  readonly #pool: pg.Pool;
  readonly #t: RouterTables;
  readonly #maps: ShardMapRegistry;
  readonly #reshards: ReshardService;
  readonly #logger: Logger;
  readonly #onDecision: (decision: AutoSplitDecision) => void;

  constructor(o: {
    pool: pg.Pool;
    schema: string;
    maps: ShardMapRegistry;
    reshards: ReshardService;
    logger: Logger;
    onDecision?: (decision: AutoSplitDecision) => void;
  }) {
    this.#pool = o.pool;
    this.#t = routerTables(o.schema);
    this.#maps = o.maps;
    this.#reshards = o.reshards;
    this.#logger = o.logger.child({ component: "autosplit" });
    this.#onDecision = o.onDecision ?? (() => {});
  }

  async policy(database: string): Promise<AutoSplitPolicy> {
    const { rows } = await this.#pool.query<{ policy: unknown }>(
      `SELECT policy FROM ${this.#t.autosplitPolicies} WHERE database = $1`,
      [database],
    );
    return autoSplitPolicy.parse(rows[0]?.policy ?? {});
  }

  async setPolicy(database: string, policy: AutoSplitPolicy): Promise<AutoSplitPolicy> {
    await this.#pool.query(
      `INSERT INTO ${this.#t.autosplitPolicies} (database, policy) VALUES ($1, $2)
       ON CONFLICT (database) DO UPDATE SET policy = excluded.policy, updated_at = now()`,
      [database, JSON.stringify(policy)],
    );
    return policy;
  }

  /** The hot-shard detector reported a shard (one replica reports each heat). */
  onHot(h: HotShardReport): Promise<AutoSplitDecision> {
    return this.consider(
      {
        database: h.database,
        shard: h.shard,
        reason: `query rate ${h.rate.toFixed(1)}/s is ${h.multiple.toFixed(1)}x the median ${h.medianRate.toFixed(1)}/s`,
      },
      "hot",
    );
  }

  /**
   * A collector sample: each threshold the shard is over starts (or keeps) its heat; a heat that
   * has lasted `sustainMs` is considered. Samples land on any replica: the heat is in PostgreSQL.
   */
  async onSample(s: ShardLoadSampled): Promise<AutoSplitDecision | undefined> {
    const policy = await this.policy(s.database);
    const at = new Date(s.sampledAt);
    const signals: [string, boolean, string][] = [
      [
        "size",
        policy.maxSizeBytes !== undefined && (s.sizeBytes ?? 0) > policy.maxSizeBytes,
        `size ${s.sizeBytes ?? 0} bytes over ${policy.maxSizeBytes ?? 0}`,
      ],
      [
        "connections",
        policy.maxConnections !== undefined && s.connections > policy.maxConnections,
        `${s.connections} connections over ${policy.maxConnections ?? 0}`,
      ],
    ];
    let decision: AutoSplitDecision | undefined;
    for (const [signal, over, what] of signals) {
      if (!over) {
        await this.#pool.query(
          `DELETE FROM ${this.#t.autosplitHeat} WHERE database = $1 AND shard = $2 AND signal = $3`,
          [s.database, s.shard, signal],
        );
        continue;
      }
      const { rows } = await this.#pool.query<{ since: Date }>(
        `INSERT INTO ${this.#t.autosplitHeat} (database, shard, signal, since, seen) VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (database, shard, signal) DO UPDATE SET
           since = least(${this.#t.autosplitHeat}.since, excluded.since),
           seen = greatest(${this.#t.autosplitHeat}.seen, excluded.seen)
         RETURNING since`,
        [s.database, s.shard, signal, at],
      );
      const heldMs = at.getTime() - rows[0]!.since.getTime();
      if (heldMs < policy.sustainMs || decision !== undefined) continue;
      decision = await this.consider(
        { database: s.database, shard: s.shard, reason: `${what} for ${Math.round(heldMs / 1000)} s` },
        signal,
      );
    }
    return decision;
  }

  /**
   * The periodic rebalance check (a scheduler job, `rebalance-check`): a shard hot in the current
   * window, or whose collector heat has lasted `sustainMs`, is considered again — one that stayed
   * hot through a cooldown is split here, not only at its next report. One decision per shard.
   */
  async check(hotNow: readonly HotShardReport[], now = new Date()): Promise<AutoSplitDecision[]> {
    const decisions: AutoSplitDecision[] = [];
    const seen = new Set<string>();
    for (const h of hotNow) {
      seen.add(`${h.database}:${h.shard}`);
      decisions.push(await this.onHot(h));
    }
    // Heat no sample has confirmed for a while (the collector stopped) is no signal.
    const { rows } = await this.#pool.query<{ database: string; shard: number; signal: string; since: Date }>(
      `SELECT database, shard, signal, since FROM ${this.#t.autosplitHeat} WHERE seen > $1 ORDER BY since`,
      [new Date(now.getTime() - HEAT_FRESH_MS)],
    );
    for (const r of rows) {
      if (seen.has(`${r.database}:${r.shard}`)) continue;
      const policy = await this.policy(r.database);
      const heldMs = now.getTime() - r.since.getTime();
      if (heldMs < policy.sustainMs) continue;
      seen.add(`${r.database}:${r.shard}`);
      const reason = `${r.signal} over its threshold for ${Math.round(heldMs / 1000)} s`;
      decisions.push(await this.consider({ database: r.database, shard: r.shard, reason }, r.signal));
    }
    return decisions;
  }

  /** Applies the policy to one signal; splits when it passes. */
  async consider(signal: SplitSignal, kind: string): Promise<AutoSplitDecision> {
    const decision = await this.#decide(signal, kind);
    this.#onDecision(decision);
    const log = {
      database: signal.database,
      shard: signal.shard,
      signal: kind,
      reason: signal.reason,
      decision,
    };
    if (decision === "split") this.#logger.warn(log, "autoSplit: splitting the shard");
    else this.#logger.info(log, "autoSplit: not splitting");
    return decision;
  }

  async #decide(signal: SplitSignal, kind: string): Promise<AutoSplitDecision> {
    const policy = await this.policy(signal.database);
    if (!policy.enabled || (kind === "hot" && !policy.onHot)) return "off";
    const map = this.#maps.get(signal.database);
    if (!map?.shards.get(signal.shard)?.ranges.length) return "unknown";
    const serving = map.serving.length;
    if (serving >= policy.maxShards) return "max-shards";
    const recent = await this.#pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${this.#t.reshards}
       WHERE database = $1 AND trigger->>'by' = 'auto'
         AND coalesce(finished_at, now()) > now() - $2 * interval '1 millisecond'`,
      [signal.database, policy.cooldownMs],
    );
    if (recent.rows[0]!.n > 0) return "cooldown";
    try {
      await this.#reshards.split({
        database: signal.database,
        shard: signal.shard,
        trigger: { by: "auto", reason: `${kind}: ${signal.reason}`.slice(0, 500) },
      });
      return "split";
    } catch (err) {
      if (err instanceof ConflictError) return "busy";
      throw err;
    }
  }
}
