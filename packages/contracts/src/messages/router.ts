import { z } from "zod";
import { databaseName, shardIndex, timestamp } from "../field-types.ts";
import type { MessageData } from "../message.ts";
import { defineCommand, defineEvent } from "../message.ts";

/** Bounds of the keyspace: the signed 64-bit hash values. `KEYSPACE_END` is exclusive. */
export const KEYSPACE_START = -(2n ** 63n);
export const KEYSPACE_END = 2n ** 63n;

const decimalInteger = /^(0|-?[1-9]\d*)$/;

/**
 * A keyspace position as a decimal string: JSON numbers lose precision beyond 2^53. Inclusive
 * bounds are signed 64-bit integers; an exclusive upper bound may also be 2^63, the end of the
 * keyspace, so the last range can be written half-open like every other.
 */
function keyspacePosition(max: bigint) {
  return z
    .string()
    .regex(decimalInteger, "must be a decimal integer string")
    .refine(
      // zod runs refinements after a failed regex too; the regex has already reported that case.
      (v) => !decimalInteger.test(v) || (BigInt(v) >= KEYSPACE_START && BigInt(v) <= max),
      "must be within the signed 64-bit keyspace",
    );
}

const hashRange = z
  .strictObject({
    shard: shardIndex,
    from: keyspacePosition(KEYSPACE_END - 1n).describe("First hash value of the range (inclusive)"),
    to: keyspacePosition(KEYSPACE_END).describe(
      "End of the range (exclusive); 9223372036854775808 (2^63) for the last range",
    ),
  })
  .refine(
    (r) => !decimalInteger.test(r.from) || !decimalInteger.test(r.to) || BigInt(r.from) < BigInt(r.to),
    {
      message: "from must be below to",
      path: ["to"],
    },
  )
  .describe("Half-open range [from, to) of signed 64-bit hash values owned by one shard");

/** Ranges must tile the whole keyspace in order: a published map never loses a key. */
function checkTiling(ranges: readonly { from: string; to: string }[], ctx: z.RefinementCtx): void {
  let expected = KEYSPACE_START;
  for (const [i, range] of ranges.entries()) {
    if (!decimalInteger.test(range.from) || !decimalInteger.test(range.to)) return;
    if (BigInt(range.from) !== expected) {
      ctx.addIssue({ code: "custom", message: `must start at ${expected}`, path: [i, "from"] });
      return;
    }
    expected = BigInt(range.to);
  }
  if (expected !== KEYSPACE_END) {
    ctx.addIssue({ code: "custom", message: `ranges must end at ${KEYSPACE_END}`, path: [] });
  }
}

/** A whole shard map's ranges: ordered by `from`, tiling the keyspace without gaps or overlaps. */
export const shardMapRanges = z
  .array(hashRange)
  .min(1)
  .superRefine(checkTiling)
  .describe("Ranges ordered by `from`, tiling the keyspace [-2^63, 2^63) without gaps or overlaps");

export const shardHot = defineEvent({
  service: "router",
  name: "shard.hot",
  schema: z.strictObject({
    database: databaseName,
    shard: shardIndex,
    rate: z.number().min(0).describe("Queries per second on this shard over the window, all replicas"),
    medianRate: z.number().min(0).describe("Median queries per second across the database's shards"),
    multiple: z.number().min(0).describe("rate / medianRate"),
    windowSeconds: z.int().min(1).describe("Length of the measurement window"),
    detectedAt: timestamp.describe("When the shard was found hot"),
  }),
  summary: "A shard receives far more queries than its siblings; a split may follow.",
});

export const shardMapPublished = defineEvent({
  service: "router",
  name: "shard-map.published",
  schema: z.strictObject({
    database: databaseName,
    version: z.int().min(1).describe("Shard map version; increases with every change"),
    ranges: shardMapRanges,
    createdAt: timestamp
      .optional()
      .describe(
        "When the router made this version, before any replica routed by it (a split's cut-over: inside the write fence); absent from older routers",
      ),
  }),
  summary: "A new version of a database's shard map is in force.",
});

export const splitShard = defineCommand({
  service: "router",
  name: "split-shard",
  schema: z.strictObject({
    database: databaseName,
    shard: shardIndex,
    at: keyspacePosition(KEYSPACE_END - 1n)
      .optional()
      .describe(
        "Hash value where the upper half starts; the median of the shard's rows by key hash if absent",
      ),
    toShard: shardIndex
      .optional()
      .describe(
        "An existing shard that owns no range to move the upper half to; a new shard is added if absent",
      ),
  }),
  summary: "Split a shard's range in two, online.",
});

export const rebalanceCheck = defineCommand({
  service: "router",
  name: "rebalance-check",
  sentBy: ["scheduler"],
  schema: z.strictObject({}),
  summary:
    "Apply every database's autoSplit policy to its shards' current load (the router schedules this with the scheduler).",
});

/** The phases of a reshard, in order; a reshard ends completed, failed or cancelled. */
export const RESHARD_PHASES = [
  "provisioning",
  "copying",
  "catching-up",
  "verifying",
  "cutting-over",
  "cleaning-up",
] as const;
export const reshardPhase = z.enum(RESHARD_PHASES);

const reshardFields = {
  database: databaseName,
  reshardId: z
    .string()
    .min(1)
    .max(64)
    .describe("Id of the reshard operation (GET /v1/databases/:db/reshards/:id)"),
  kind: z
    .enum(["split", "move", "merge"])
    .describe(
      "split: half a range to another shard; move: a range to another shard; merge: a shard's range to its neighbour",
    ),
  sourceShard: shardIndex.describe("Shard whose range is split"),
  targetShard: shardIndex.optional().describe("Shard taking the moved range, once known"),
  moved: z
    .strictObject({
      from: keyspacePosition(KEYSPACE_END - 1n),
      to: keyspacePosition(KEYSPACE_END),
    })
    .optional()
    .describe("The hash range [from, to) that moves, once the split point is chosen"),
};

export const reshardStarted = defineEvent({
  service: "router",
  name: "reshard.started",
  schema: z.strictObject({
    ...reshardFields,
    trigger: z
      .strictObject({
        by: z
          .enum(["api", "command", "auto"])
          .describe("Who asked: an HTTP call, a split-shard command, the autoSplit policy"),
        reason: z.string().max(500).optional().describe("The decision and its inputs, for automatic splits"),
      })
      .describe("Why the reshard started"),
  }),
  summary: "An online reshard was accepted and starts.",
});

export const reshardPhaseChanged = defineEvent({
  service: "router",
  name: "reshard.phase-changed",
  schema: z.strictObject({ ...reshardFields, phase: reshardPhase, previousPhase: reshardPhase }),
  summary: "An online reshard moved to its next phase.",
});

export const reshardCompleted = defineEvent({
  service: "router",
  name: "reshard.completed",
  schema: z.strictObject({
    ...reshardFields,
    mapVersion: z.int().min(1).describe("The shard map version that gave the moved range to the target"),
    rowsCopied: z.int().min(0),
    writePauseMs: z.int().min(0).describe("How long writes to the source shard were held at the cut-over"),
  }),
  summary:
    "An online reshard finished: the target owns the moved range and the source no longer holds its rows.",
});

export const reshardFailed = defineEvent({
  service: "router",
  name: "reshard.failed",
  schema: z.strictObject({
    ...reshardFields,
    phase: reshardPhase,
    error: z
      .string()
      .max(2000)
      .describe("What went wrong; the shard map is unchanged unless phase is cleaning-up"),
  }),
  summary: "An online reshard stopped on an error it cannot retry past; what was built was rolled back.",
});

export const reshardCancelled = defineEvent({
  service: "router",
  name: "reshard.cancelled",
  schema: z.strictObject({ ...reshardFields, phase: reshardPhase }),
  summary: "An online reshard was cancelled before its cut-over; nothing changed for clients.",
});

export type ShardHot = MessageData<typeof shardHot>;
export type ShardMapPublished = MessageData<typeof shardMapPublished>;
export type SplitShard = MessageData<typeof splitShard>;
export type RebalanceCheck = MessageData<typeof rebalanceCheck>;
export type ReshardPhase = z.output<typeof reshardPhase>;
