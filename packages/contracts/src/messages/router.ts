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
    ranges: z
      .array(hashRange)
      .min(1)
      .superRefine(checkTiling)
      .describe("Ranges ordered by `from`, tiling the keyspace [-2^63, 2^63) without gaps or overlaps"),
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
      .describe("Hash value where the upper half starts; the middle of the shard's range if absent"),
  }),
  summary: "Split a shard's range in two, online.",
});

export type ShardHot = MessageData<typeof shardHot>;
export type ShardMapPublished = MessageData<typeof shardMapPublished>;
export type SplitShard = MessageData<typeof splitShard>;
