import { createHash, randomBytes } from "node:crypto";
import type { Bus } from "@dbplane/bus";
import { reshardStarted } from "@dbplane/contracts";
import type { Logger } from "@dbplane/service-kit";
import { NotFoundError, ValidationError } from "@dbplane/service-kit";
import { InvalidRangesError, planSplit, rangesFromText, reassignRange } from "@dbplane/sharding";
import type { ShardMapRegistry } from "../shards/shard-map-registry.ts";
import type { ReshardRunner } from "./reshard-runner.ts";
import type { NewReshard, Reshard, ReshardStore, ReshardTrigger } from "./reshard-store.ts";

export interface SplitRequest {
  readonly database: string;
  readonly shard: number;
  readonly at?: string;
  readonly toShard?: number;
  readonly trigger: ReshardTrigger;
  /** Deterministic source of the id (a command's id), so a redelivery finds the same reshard. */
  readonly idSeed?: string;
}

/** A reshard id from a command's id: lower-case hex, usable in PostgreSQL object names. */
function reshardId(seed: string): string {
  return `rs_${createHash("sha256").update(seed).digest("hex").slice(0, 16)}`;
}

function bad(field: string, message: string): ValidationError {
  return new ValidationError("invalid split", { errors: [{ field, message }] });
}

/** Accepting, listing and cancelling reshards; the runner does the work. */
export class ReshardService {
  readonly #store: ReshardStore;
  readonly #maps: ShardMapRegistry;
  readonly #runner: ReshardRunner;
  readonly #bus: Bus;
  readonly #logger: Logger;

  constructor(store: ReshardStore, maps: ShardMapRegistry, runner: ReshardRunner, bus: Bus, logger: Logger) {
    this.#store = store;
    this.#maps = maps;
    this.#runner = runner;
    this.#bus = bus;
    this.#logger = logger;
  }

  /**
   * Checks the request against the map in force (the shard owns a range, the split point falls
   * strictly inside it, the named target owns none), records it and wakes a runner. The same
   * `idSeed` again returns the reshard already recorded.
   */
  async split(request: SplitRequest): Promise<{ reshard: Reshard; created: boolean }> {
    const seeded = request.idSeed === undefined ? undefined : reshardId(request.idSeed);
    // A redelivered command finds its reshard whatever the map has become since.
    const existing = seeded === undefined ? undefined : await this.#store.get(request.database, seeded);
    if (existing) return { reshard: existing, created: false };
    const map = this.#maps.get(request.database);
    if (!map) throw new NotFoundError(`database ${request.database} is not routed by this router`);
    const source = map.shards.get(request.shard);
    if (!source) throw bad("body.shard", `shard ${request.shard} is not a shard of ${request.database}`);
    if (source.ranges.length === 0) throw bad("body.shard", `shard ${request.shard} owns no range to split`);
    if (request.toShard !== undefined) {
      const to = map.shards.get(request.toShard);
      if (!to) throw bad("body.toShard", `shard ${request.toShard} is not a shard of ${request.database}`);
      if (to.ranges.length > 0) throw bad("body.toShard", `shard ${request.toShard} already owns a range`);
    }
    const probe = request.toShard ?? Math.max(...map.shards.keys()) + 1;
    try {
      // The median is chosen later, on the rows; here only what the request itself fixes.
      const at = request.at === undefined ? undefined : BigInt(request.at);
      if (at !== undefined || source.ranges.length === 1) {
        planSplit(rangesFromText(map.document.ranges), request.shard, probe, at);
      } else {
        throw new InvalidRangesError(`shard ${request.shard} owns several ranges; name a split point`);
      }
    } catch (err) {
      if (err instanceof InvalidRangesError)
        throw bad(request.at === undefined ? "body.shard" : "body.at", err.message);
      throw err;
    }
    const id = seeded ?? `rs_${randomBytes(8).toString("hex")}`;
    return this.#create(
      {
        id,
        database: request.database,
        sourceShard: request.shard,
        ...(request.toShard === undefined ? {} : { toShard: request.toShard }),
        ...(request.at === undefined ? {} : { splitAt: request.at }),
        trigger: request.trigger,
      },
      request.toShard,
    );
  }

  /**
   * Moves `[from, to)` — a piece of one shard's range — to `toShard`. A target that owns ranges
   * already gets only the sharded rows, hidden from the application until the cut-over.
   */
  async move(request: {
    database: string;
    range: { from: string; to: string };
    toShard: number;
  }): Promise<{ reshard: Reshard; created: boolean }> {
    const map = this.#mapOf(request.database);
    const target = map.shards.get(request.toShard);
    if (!target) throw bad("body.toShard", `shard ${request.toShard} is not a shard of ${request.database}`);
    const from = BigInt(request.range.from);
    const to = BigInt(request.range.to);
    const ranges = rangesFromText(map.document.ranges);
    const holder = ranges.find((r) => from >= r.from && from < r.to);
    try {
      reassignRange(ranges, from, to, request.toShard);
    } catch (err) {
      if (err instanceof InvalidRangesError) throw bad("body.range", err.message);
      throw err;
    }
    return this.#create(
      {
        id: `rs_${randomBytes(8).toString("hex")}`,
        database: request.database,
        kind: "move",
        sourceShard: holder!.shard,
        targetShard: request.toShard,
        targetServes: target.ranges.length > 0,
        range: request.range,
        trigger: { by: "api" },
      },
      request.toShard,
    );
  }

  /**
   * Merges `b` into `a`: b's range, which must be its only one and border one of a's, moves to a;
   * b is left owning nothing (a later split can use it again).
   */
  async merge(request: { database: string; shards: readonly [number, number] }): Promise<{
    reshard: Reshard;
    created: boolean;
  }> {
    const map = this.#mapOf(request.database);
    const [a, b] = request.shards;
    if (a === b) throw bad("body.shards", "name two different shards");
    for (const [i, s] of [a, b].entries()) {
      if (!map.shards.get(s)?.ranges.length) {
        throw bad(`body.shards.${i}`, `shard ${s} of ${request.database} does not exist or owns no range`);
      }
    }
    const moving = map.shards.get(b)!.ranges;
    if (moving.length !== 1)
      throw bad("body.shards.1", `shard ${b} owns ${moving.length} ranges; merge needs one`);
    const range = moving[0]!;
    const adjacent = map.shards.get(a)!.ranges.some((r) => r.to === range.from || r.from === range.to);
    if (!adjacent) throw bad("body.shards", `the ranges of shards ${a} and ${b} do not border each other`);
    return this.#create(
      {
        id: `rs_${randomBytes(8).toString("hex")}`,
        database: request.database,
        kind: "merge",
        sourceShard: b,
        targetShard: a,
        targetServes: true,
        range: { from: range.from.toString(), to: range.to.toString() },
        trigger: { by: "api" },
      },
      a,
    );
  }

  #mapOf(database: string) {
    const map = this.#maps.get(database);
    if (!map) throw new NotFoundError(`database ${database} is not routed by this router`);
    return map;
  }

  async #create(input: NewReshard, targetShard?: number): Promise<{ reshard: Reshard; created: boolean }> {
    const result = await this.#store.create(input);
    if (result.created) {
      await this.#bus
        .publish(
          reshardStarted,
          {
            database: input.database,
            reshardId: input.id,
            kind: input.kind ?? "split",
            sourceShard: input.sourceShard,
            ...(targetShard === undefined ? {} : { targetShard }),
            ...(input.range ? { moved: input.range } : {}),
            trigger: input.trigger,
          },
          { subject: input.database, id: `${input.id}:reshard.started`, correlationId: input.id },
        )
        .catch((err: unknown) =>
          this.#logger.warn({ err, reshard: input.id }, "reshard.started not published"),
        );
      this.#runner.wake();
    }
    return result;
  }

  list(database: string): Promise<Reshard[]> {
    return this.#store.list(database);
  }

  async get(database: string, id: string): Promise<Reshard> {
    const reshard = await this.#store.get(database, id);
    if (!reshard) throw new NotFoundError(`no reshard ${id} of ${database}`);
    return reshard;
  }

  async cancel(database: string, id: string): Promise<Reshard> {
    const reshard = await this.#store.requestCancel(database, id);
    this.#runner.wake();
    return reshard;
  }
}
