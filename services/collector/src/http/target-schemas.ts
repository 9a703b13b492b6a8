import { z } from "zod";
import { HEALTH_STATES } from "../domain/health.ts";
import { ENGINES } from "../domain/observation.ts";

export const targetQuery = z.object({
  engine: z.enum(ENGINES).optional().describe("Only targets of this engine"),
  health: z.enum(HEALTH_STATES).optional().describe("Only targets in this health state"),
  owner: z.string().min(1).max(300).optional().describe("Only targets assigned to this member"),
  source: z.enum(["static", "discovery", "provisioner"]).optional(),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
  cursor: z.string().max(600).optional().describe("nextCursor of the previous page"),
});

export const targetIdParams = z.object({ id: z.string().min(1).max(512) });

const sample = z
  .object({
    member: z.string(),
    epoch: z.number(),
    at: z.string(),
    durationMs: z.number(),
    state: z.enum(HEALTH_STATES),
    role: z.string().optional(),
    transactionsPerSecond: z.number().optional(),
    tuplesPerSecond: z.number().optional(),
    operationsPerSecond: z.number().optional(),
    connections: z.number().optional(),
    serverConnections: z.number().optional(),
    maxConnections: z.number().optional(),
    sizeBytes: z.number().optional(),
    replicationLagSeconds: z.number().optional(),
    replicationLagBytes: z.number().optional(),
    cacheHitRatio: z.number().optional(),
    longestQuerySeconds: z.number().optional(),
    locksWaiting: z.number().optional(),
  })
  .describe("The last collection, by whichever member made it");

export const targetResource = z.object({
  id: z.string(),
  engine: z.enum(ENGINES),
  source: z.enum(["static", "discovery", "provisioner"]),
  endpoint: z.string().describe("scheme://host:port/database, never credentials"),
  shard: z
    .object({ database: z.string(), shard: z.number(), role: z.enum(["primary", "replica"]) })
    .optional(),
  owner: z.string().nullable().describe("Member collecting it in the newest epoch"),
  health: z
    .object({ state: z.enum(HEALTH_STATES), reason: z.string(), since: z.string(), epoch: z.number() })
    .nullable(),
  lastSample: sample.nullable(),
});

export const targetPage = z.object({ items: z.array(targetResource), nextCursor: z.string().nullable() });

export const groupResource = z.object({
  leader: z.string().nullable(),
  epoch: z.number(),
  assignedAt: z.string().nullable(),
  targets: z.number(),
  movedInLastRebalance: z.number(),
  members: z.array(
    z.object({
      id: z.string(),
      lastSeenAt: z.string(),
      live: z.boolean(),
      assignedTargets: z.number(),
      info: z.record(z.string(), z.unknown()),
    }),
  ),
});

export type TargetResource = z.output<typeof targetResource>;
