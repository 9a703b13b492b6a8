import type { Redis } from "ioredis";
import type { CoordinationKeys } from "../coordination/coordination-keys.ts";
import { LuaScript } from "../coordination/lua-script.ts";
import type { Health, HealthState } from "../domain/health.ts";

/** What `GET /v1/targets` shows of a target's last collection (shared by all replicas in Redis). */
export interface SampleRecord {
  readonly member: string;
  readonly epoch: number;
  readonly at: string;
  readonly durationMs: number;
  readonly state: HealthState;
  readonly role?: string;
  readonly transactionsPerSecond?: number;
  readonly tuplesPerSecond?: number;
  readonly operationsPerSecond?: number;
  readonly connections?: number;
  readonly serverConnections?: number;
  readonly maxConnections?: number;
  readonly sizeBytes?: number;
  readonly replicationLagSeconds?: number;
  readonly replicationLagBytes?: number;
  /** PostgreSQL latency proxies: buffer cache hit ratio over the interval, longest statement, locks waiting. */
  readonly cacheHitRatio?: number;
  readonly longestQuerySeconds?: number;
  readonly locksWaiting?: number;
}

/** A target's health as recorded: since when, and by which epoch's owner. */
export interface HealthRecord extends Health {
  readonly since: string;
  readonly epoch: number;
}

/**
 * Records a health observation and reports whether it is a change. Compare-and-set in one step,
 * and never over a record from a newer epoch: when a target moves, its old owner's late
 * observation cannot undo (or repeat) its new owner's transition. Returns the previous record
 * ('' if none) when the state changed, false otherwise.
 * KEYS: health. ARGV: target, new record JSON, epoch.
 */
const RECORD_HEALTH = new LuaScript(`
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local prev = cjson.decode(old)
  if tonumber(prev.epoch) > tonumber(ARGV[3]) then return false end
  local next = cjson.decode(ARGV[2])
  if prev.state == next.state then
    if prev.reason ~= next.reason then
      next.since = prev.since
      redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(next))
    end
    return false
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return old or ''
`);

export class SampleStore {
  readonly #redis: Redis;
  readonly #keys: CoordinationKeys;

  constructor(redis: Redis, keys: CoordinationKeys) {
    this.#redis = redis;
    this.#keys = keys;
  }

  async recordSample(target: string, sample: SampleRecord): Promise<void> {
    await this.#redis.hset(this.#keys.samples, target, JSON.stringify(sample));
  }

  /** The previous record when `health` is a change of state, else undefined. */
  async recordHealth(target: string, health: HealthRecord): Promise<{ previous?: HealthRecord } | undefined> {
    const result = (await RECORD_HEALTH.run(
      this.#redis,
      [this.#keys.health],
      [target, JSON.stringify(health), health.epoch],
    )) as string | null;
    if (result === null) return undefined;
    return result === "" ? {} : { previous: JSON.parse(result) as HealthRecord };
  }

  /** Puts back the record a change replaced (its event was not published), so the next collection sees the change again. */
  async undoHealth(target: string, previous: HealthRecord | undefined): Promise<void> {
    if (previous) await this.#redis.hset(this.#keys.health, target, JSON.stringify(previous));
    else await this.#redis.hdel(this.#keys.health, target);
  }

  async samples(targets: readonly string[]): Promise<(SampleRecord | undefined)[]> {
    if (targets.length === 0) return [];
    const raw = await this.#redis.hmget(this.#keys.samples, ...targets);
    return raw.map((r) => (r ? (JSON.parse(r) as SampleRecord) : undefined));
  }

  async healths(targets: readonly string[]): Promise<(HealthRecord | undefined)[]> {
    if (targets.length === 0) return [];
    const raw = await this.#redis.hmget(this.#keys.health, ...targets);
    return raw.map((r) => (r ? (JSON.parse(r) as HealthRecord) : undefined));
  }

  async forget(targets: readonly string[]): Promise<void> {
    if (targets.length === 0) return;
    await this.#redis
      .multi()
      .hdel(this.#keys.samples, ...targets)
      .hdel(this.#keys.health, ...targets)
      .exec();
  }
}
