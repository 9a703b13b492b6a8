import type { Redis } from "ioredis";
import type { CoordinationKeys } from "../coordination/coordination-keys.ts";
import { type TargetSpec, targetSpec } from "../domain/target-spec.ts";

/**
 * The targets every replica shares, in Redis: specs by id, ids in lexical order for paging, and
 * a version the leader watches. Events reach one replica each (one durable consumer), so the
 * registry is how the others learn of them. Writes are idempotent: an unchanged spec writes
 * nothing and does not bump the version.
 */
export class TargetRegistry {
  readonly #redis: Redis;
  readonly #keys: CoordinationKeys;

  constructor(redis: Redis, keys: CoordinationKeys) {
    this.#redis = redis;
    this.#keys = keys;
  }

  /** Adds or replaces specs; returns how many changed. */
  async upsert(specs: readonly TargetSpec[]): Promise<number> {
    if (specs.length === 0) return 0;
    const current = await this.#redis.hmget(this.#keys.targets, ...specs.map((s) => s.id));
    const changed = specs.filter((spec, i) => current[i] !== JSON.stringify(spec));
    if (changed.length === 0) return 0;
    const tx = this.#redis.multi();
    for (const spec of changed) {
      tx.hset(this.#keys.targets, spec.id, JSON.stringify(spec));
      tx.zadd(this.#keys.targetIds, 0, spec.id);
    }
    await tx.incr(this.#keys.targetsVersion).exec();
    return changed.length;
  }

  async remove(ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const [[, removed] = []] =
      (await this.#redis
        .multi()
        .hdel(this.#keys.targets, ...ids)
        .zrem(this.#keys.targetIds, ...ids)
        .hdel(this.#keys.samples, ...ids)
        .hdel(this.#keys.health, ...ids)
        .incr(this.#keys.targetsVersion)
        .exec()) ?? [];
    return Number(removed ?? 0);
  }

  /** Ids starting with `prefix`, in order. */
  async idsWithPrefix(prefix: string): Promise<string[]> {
    return this.#redis.zrangebylex(this.#keys.targetIds, `[${prefix}`, `[${prefix}\xff`);
  }

  /** Specs of `ids` (undefined for unknown ones). */
  async get(ids: readonly string[]): Promise<(TargetSpec | undefined)[]> {
    if (ids.length === 0) return [];
    const raw = await this.#redis.hmget(this.#keys.targets, ...ids);
    return raw.map((r) => (r ? targetSpec.parse(JSON.parse(r)) : undefined));
  }

  /** Up to `limit` ids after `after` (exclusive), in lexical order. */
  async page(after: string | undefined, limit: number): Promise<string[]> {
    const from = after === undefined ? "-" : `(${after}`;
    return this.#redis.zrangebylex(this.#keys.targetIds, from, "+", "LIMIT", 0, limit);
  }

  async count(): Promise<number> {
    return this.#redis.zcard(this.#keys.targetIds);
  }

  async ids(): Promise<string[]> {
    return this.#redis.zrange(this.#keys.targetIds, "0", "-1");
  }
}
