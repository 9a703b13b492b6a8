import { z } from "zod";
import { databaseName, reason, shardIndex, timestamp } from "../field-types.ts";
import type { MessageData } from "../message.ts";
import { defineEvent } from "../message.ts";

const HEALTH_STATES = ["up", "degraded", "down"] as const;
const healthState = z.enum(HEALTH_STATES);

export const targetHealthChanged = defineEvent({
  service: "collector",
  name: "target.health-changed",
  schema: z.strictObject({
    target: z
      .string()
      .min(1)
      .max(512)
      .describe("Target id (a discovered database id or a static target's name)"),
    engine: z.enum(["postgresql", "mysql", "redis", "mongodb"]).describe("Receiver that probed the target"),
    state: healthState.describe("Health now"),
    previousState: healthState.optional().describe("Health before; absent on the first observation"),
    reason: reason.describe("What made the state change"),
    changedAt: timestamp.describe("When the change was observed"),
  }),
  summary: "A collection target's health changed.",
});

export const shardLoadSampled = defineEvent({
  service: "collector",
  name: "shard.load-sampled",
  schema: z.strictObject({
    database: databaseName,
    shard: shardIndex,
    windowSeconds: z.int().min(1).describe("Length of the sampling window"),
    transactionsPerSecond: z
      .number()
      .min(0)
      .describe("Commits and rollbacks per second, all servers of the shard"),
    tuplesPerSecond: z.number().min(0).describe("Tuples returned, inserted, updated and deleted per second"),
    connections: z.int().min(0).describe("Open connections at the end of the window"),
    sizeBytes: z.int().min(0).optional().describe("Database size on the primary"),
    cacheHitRatio: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe("Share of block reads served from the buffer cache over the window, primary (latency proxy)"),
    longestQuerySeconds: z
      .number()
      .min(0)
      .optional()
      .describe("Age of the longest running statement at the end of the window, primary (latency proxy)"),
    locksWaiting: z
      .int()
      .min(0)
      .optional()
      .describe("Lock requests waiting at the end of the window, primary"),
    sampledAt: timestamp.describe("End of the sampling window"),
  }),
  summary: "Load of one shard over a sampling window (feeds hot-shard detection).",
});

export type TargetHealthChanged = MessageData<typeof targetHealthChanged>;
export type ShardLoadSampled = MessageData<typeof shardLoadSampled>;
