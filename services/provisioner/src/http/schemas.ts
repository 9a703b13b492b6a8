import {
  addShard,
  backupPolicy,
  createDatabase,
  endpoint,
  passwordRef,
  removeShard,
  runBackup,
  scaleReplicas,
} from "@dbplane/contracts";
import { z } from "zod";
import { cronProblem } from "../domain/backup-schedule.ts";
import { createRequestProblems } from "../domain/create-request.ts";
import { DATABASE_STATES, OPERATION_KINDS, OPERATION_STATES, SHARD_STATES } from "../domain/states.ts";
import type { DatabaseRow, OperationRow, ShardRow } from "../store/rows.ts";

export const nameParams = z.object({ name: createDatabase.schema.shape.name });
export const operationParams = z.object({ id: z.string().min(1).max(200) });

// The rules that span fields (synchronous.replicas ≤ replicasPerShard, a schedule's cron and zone),
// shared with the create-database command: the 400 names the field.
export const createBody = createDatabase.schema.superRefine((body, ctx) => {
  for (const problem of createRequestProblems(body))
    ctx.addIssue({ code: "custom", message: problem.message, path: [...problem.path] });
});
export const backupPolicyBody = backupPolicy.superRefine((policy, ctx) => {
  const problem = cronProblem(policy.schedule.cron, policy.schedule.timezone);
  if (problem) ctx.addIssue({ code: "custom", message: problem, path: ["schedule", "cron"] });
});
export const addShardsBody = addShard.schema.omit({ name: true });
export const shardParams = nameParams.extend({
  shard: z.coerce.number().pipe(removeShard.schema.shape.shard),
});
export const scaleReplicasBody = scaleReplicas.schema.omit({ name: true });
export const backupBody = runBackup.schema.omit({ name: true, backupId: true }).extend({
  backupId: runBackup.schema.shape.backupId.optional().describe("Caller-chosen id; generated if absent"),
});
export const deleteQuery = z.object({
  keepVolumes: z
    .stringbool()
    .default(true)
    .describe("Keep the data (PVCs on Kubernetes, data directories moved aside locally)"),
});

export const backupList = z.object({
  items: z.array(
    z.object({
      backupId: z.string(),
      shard: z.int(),
      state: z.enum(["pending", "completed", "failed"]),
      location: z
        .string()
        .nullable()
        .describe("Where the dump is (a path locally, the Job's volume on Kubernetes)"),
      bytes: z.int().nullable(),
      reason: z.string().nullable().describe("Why it failed"),
      operationId: z.string().nullable(),
      startedAt: z.iso.datetime().nullable(),
      completedAt: z.iso.datetime().nullable(),
      startLsn: z
        .string()
        .nullable()
        .describe("WAL position the physical backup starts at (null for a dump)"),
      stopLsn: z.string().nullable().describe("WAL position the physical backup is consistent at"),
    }),
  ),
  window: z
    .object({
      earliest: z.iso.datetime().describe("End of the oldest complete backup"),
      latest: z.iso
        .datetime()
        .describe("Now: WAL is archived continuously, and a restore archives the rest first"),
    })
    .nullable()
    .describe("Moments a restore can reach; null without a complete physical backup of every shard"),
});

export const restoreBody = z
  .strictObject({
    backupId: runBackup.schema.shape.backupId.describe("Restore to the end of this backup"),
    pointInTime: z.iso
      .datetime({ offset: true })
      .optional()
      .describe("Restore to this moment (RFC 3339), within the restorable window"),
    into: createDatabase.schema.shape.name.describe("Name of the new database the restore makes"),
  })
  .refine((b) => (b.backupId === undefined) !== (b.pointInTime === undefined), {
    message: "name exactly one of backupId or pointInTime",
    path: ["backupId"],
  });

export const accepted = z.object({
  operationId: z.string(),
  database: z.string(),
  version: z.int(),
  outcome: z.enum(["accepted", "unchanged"]),
  status: z.string().describe("Where to follow the operation"),
});

const shardResource = z.object({
  shard: z.int(),
  state: z.enum(SHARD_STATES),
  replicas: z.int().describe("Desired streaming replicas"),
  reason: z.string().nullable(),
  primary: endpoint.nullable(),
  readReplicas: z.array(endpoint),
  dbname: z.string().nullable(),
  user: z.string().nullable(),
  passwordRef: passwordRef.nullable().describe("Where the password lives; never the password"),
});

export const databaseResource = z.object({
  name: z.string(),
  state: z.enum(DATABASE_STATES),
  version: z.int(),
  reason: z.string().nullable(),
  spec: z.record(z.string(), z.unknown()).describe("Desired state (the create request plus later changes)"),
  shards: z.array(shardResource),
  shardMap: z
    .object({ version: z.int(), owners: z.array(z.int()).describe("Shards that own a hash range") })
    .nullable()
    .optional()
    .describe(
      "The router's newest shard map as the provisioner last saw it (GET of one database; null before the first change)",
    ),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export const databaseList = z.object({ items: z.array(databaseResource) });

export const operationResource = z.object({
  id: z.string(),
  kind: z.enum(OPERATION_KINDS),
  database: z.string(),
  state: z.enum(OPERATION_STATES),
  targetVersion: z.int().nullable(),
  backupId: z.string().nullable(),
  error: z.string().nullable(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
});

export function toDatabaseResource(
  db: DatabaseRow,
  shards: readonly ShardRow[],
): z.input<typeof databaseResource> {
  return {
    name: db.name,
    state: db.state,
    version: db.version,
    reason: db.reason,
    spec: db.spec,
    shards: shards.map((s) => ({
      shard: s.shard,
      state: s.state,
      replicas: s.replicas,
      reason: s.reason,
      primary: s.endpoint?.primary ?? null,
      readReplicas: s.endpoint?.replicas ?? [],
      dbname: s.endpoint?.dbname ?? null,
      user: s.endpoint?.user ?? null,
      passwordRef: s.endpoint?.passwordRef ?? null,
    })),
    createdAt: db.createdAt.toISOString(),
    updatedAt: db.updatedAt.toISOString(),
  };
}

export function toOperationResource(op: OperationRow): z.input<typeof operationResource> {
  return {
    id: op.id,
    kind: op.kind,
    database: op.database,
    state: op.state,
    targetVersion: op.targetVersion,
    backupId: op.backupId,
    error: op.error,
    createdAt: op.createdAt.toISOString(),
    finishedAt: op.finishedAt?.toISOString() ?? null,
  };
}
