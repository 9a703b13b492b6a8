import { databaseName, jsonValue } from "@dbplane/contracts";
import { SHARD_KEY_TYPES } from "@dbplane/sharding";
import { z } from "zod";

export const databaseParams = z.object({ db: databaseName });

export const shardKey = z
  .strictObject({
    type: z
      .enum(SHARD_KEY_TYPES)
      .describe("PostgreSQL type of the shard-key column; selects the hash function"),
    value: z
      .union([z.string().max(10_000), z.number()])
      .describe("The key: integers as numbers or decimal strings (beyond 2^53 use strings), text, or a uuid"),
  })
  .describe("Typed shard key; its PostgreSQL hash picks the shard");

const sql = z
  .string()
  .min(1)
  .max(1_000_000)
  .describe("SQL; parameters as $1, $2… — always bound, never interpolated");
const params = z.array(jsonValue).max(65_535).default([]).describe("Values bound to $1, $2…");

const orderTerm = z.strictObject({
  column: z.string().min(1).max(63).describe("Result column to order the merged rows by"),
  direction: z.enum(["asc", "desc"]).default("asc"),
});

export const queryBody = z
  .strictObject({
    sql,
    params,
    key: shardKey.optional().describe("Routes to the one shard that owns it; absent: every shard (scatter)"),
    readOnly: z
      .boolean()
      .default(false)
      .describe(
        "Read-only work: served by a replica under the lag bound, else by the primary in a read-only session",
      ),
    allowWrites: z
      .boolean()
      .default(false)
      .describe("Scatter only: let the statement write on every shard (otherwise each shard refuses writes)"),
    allowPartial: z
      .boolean()
      .default(false)
      .describe(
        "Scatter only: answer 200 with the shards that answered when others failed (each failure listed)",
      ),
    orderBy: z.array(orderTerm).max(16).default([]).describe("Scatter only: merge order of the shards' rows"),
    limit: z.int().min(0).max(1_000_000).optional().describe("Scatter only: rows kept after the merge"),
  })
  .describe("A statement for one shard (with key) or for all shards (without)");

const row = z.record(z.string(), z.unknown());
const shardFailure = z.object({
  status: z.int(),
  code: z.string(),
  message: z.string(),
  sqlstate: z.string().optional(),
  position: z.int().optional(),
});

export const keyedResult = z.object({
  database: z.string(),
  version: z.int().describe("Shard map version the statement was routed by"),
  shard: z.int().describe("Shard that ran the statement"),
  server: z.enum(["primary", "replica"]),
  command: z.string(),
  rowCount: z.int().nullable(),
  rows: z.array(row),
});

export const scatterResult = z.object({
  database: z.string(),
  version: z.int(),
  complete: z.boolean().describe("False when some shards failed (only with allowPartial)"),
  rowCount: z.int().describe("Rows returned after merge and limit"),
  rows: z.array(row),
  shards: z.array(
    z.object({
      shard: z.int(),
      server: z.enum(["primary", "replica"]),
      rowCount: z.int().nullable(),
      error: shardFailure.optional(),
    }),
  ),
});

export const transactionBody = z
  .strictObject({
    key: shardKey.optional(),
    shard: z.int().min(0).optional().describe("Shard index, instead of a key"),
    readOnly: z.boolean().default(false),
    statements: z.array(z.strictObject({ sql, params })).min(1).max(1_000),
  })
  .refine((b) => (b.key === undefined) !== (b.shard === undefined), {
    message: "give exactly one of key and shard",
    path: ["key"],
  });

export const transactionResult = z.object({
  database: z.string(),
  version: z.int(),
  shard: z.int(),
  results: z.array(z.object({ command: z.string(), rowCount: z.int().nullable(), rows: z.array(row) })),
});

export const migrationBody = z.strictObject({
  id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/, "must be letters, digits, dot, dash or underscore")
    .describe("Caller-chosen id; a repeated id with the same statements is a no-op"),
  statements: z
    .array(z.string().min(1).max(1_000_000))
    .min(1)
    .max(1_000)
    .describe("DDL, run in one transaction per shard"),
});

export const migrationResult = z.object({
  database: z.string(),
  id: z.string(),
  complete: z.boolean().describe("True when every shard has the migration"),
  shards: z.array(
    z.object({
      shard: z.int(),
      status: z.enum(["applied", "already-applied", "failed"]),
      error: z
        .object({ message: z.string(), sqlstate: z.string().optional(), position: z.int().optional() })
        .optional(),
    }),
  ),
});

export const migrationList = z.object({
  database: z.string(),
  migrations: z.array(z.object({ id: z.string(), statements: z.array(z.string()), createdAt: z.string() })),
});

const serverView = z.object({
  host: z.string(),
  port: z.int(),
  status: z.enum(["unknown", "up", "down"]),
  lagMs: z.number().optional(),
  eligible: z
    .boolean()
    .optional()
    .describe("Replicas: serves reads now (up, in recovery, under the lag bound)"),
  checkedAt: z.string().optional(),
  error: z.string().optional(),
});

export const shardsResult = z.object({
  database: z.string(),
  version: z.int(),
  shards: z.array(
    z.object({
      shard: z.int(),
      ranges: z.array(z.object({ from: z.string(), to: z.string() })),
      dbname: z.string(),
      user: z.string(),
      reshardUser: z
        .string()
        .describe(
          "The role resharding connects as: the shard's reshard role, or `user` on older provisioners' shards",
        ),
      primary: serverView,
      replicas: z.array(serverView),
      load: z
        .object({
          queryRate: z.number(),
          errorRate: z.number(),
          meanLatencyMs: z.number(),
          windowSeconds: z.int(),
        })
        .optional()
        .describe("Across all router replicas, over the sliding window; absent until first measured"),
    }),
  ),
});

export const databaseList = z.object({
  databases: z.array(z.object({ name: z.string(), version: z.int(), shards: z.int() })),
});

export const publishMapBody = z.strictObject({
  expectedVersion: z.int().min(1).describe("The version this change is based on (compare-and-set)"),
  ranges: z
    .array(z.strictObject({ shard: z.int().min(0), from: z.string(), to: z.string() }))
    .min(1)
    .describe("The new tiling, decimal strings, half-open, ordered"),
  // Endpoints and password references are the provisioner's (database.ready), never a caller's:
  // a caller-chosen passwordRef made the router send its own secrets to the caller's server.
  shards: z
    .never({
      error:
        "shards cannot be set here: endpoints and password references come from the provisioner's database.ready; this route changes ranges only",
    })
    .optional()
    .describe("Not accepted: the map keeps the endpoints the provisioner announced"),
});

export const publishedMap = z.object({ database: z.string(), version: z.int() });
