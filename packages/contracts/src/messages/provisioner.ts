import { z } from "zod";
import {
  applicationRole,
  databaseName,
  endpoint,
  identifier,
  quantity,
  reason,
  shardEndpoint,
  shardedTable,
  shardIndex,
  timestamp,
} from "../field-types.ts";
import type { MessageData } from "../message.ts";
import { defineCommand, defineEvent } from "../message.ts";
import { shardMapRanges } from "./router.ts";
import { cronExpression, isTimeZone } from "./scheduler.ts";

/**
 * Scheduled backups of a database: the provisioner registers the schedule as a scheduler job
 * (its `run-backup` command), and deletes what `retain` no longer keeps after each backup.
 */
export const backupPolicy = z
  .strictObject({
    schedule: z
      .strictObject({
        cron: cronExpression.describe("Cron expression (5 or 6 fields, or a nickname such as @daily)"),
        timezone: z
          .string()
          .refine(isTimeZone, "must be an IANA time zone (e.g. Europe/Berlin)")
          .default("UTC")
          .describe("IANA time zone the expression is read in"),
      })
      .describe("When a backup of every shard starts"),
    retain: z
      .strictObject({
        count: z.int().min(1).max(1_000).optional().describe("Newest completed backups kept"),
        days: z.int().min(1).max(3_650).optional().describe("Backups younger than this many days kept"),
      })
      .refine(
        (r) => (r.count === undefined) !== (r.days === undefined),
        "must name exactly one of count or days",
      )
      .describe("Which backups are kept; older ones, and the WAL only they needed, are deleted"),
    method: z
      .enum(["base-backup"])
      .default("base-backup")
      .describe(
        "Physical base backup plus continuous WAL archiving (local: pg_basebackup; CloudNativePG: barman object store)",
      ),
  })
  .describe("Scheduled backups with retention; restorable to any point since the oldest kept backup");

/** The desired state of a database, as requested. Shared by the command and its event. */
const databaseSpec = z.strictObject({
  name: databaseName,
  shards: z
    .int()
    .min(1)
    .max(64)
    .default(1)
    .describe("Number of shards (the provisioner may allow fewer: DBPLANE_QUOTA_MAX_SHARDS)"),
  replicasPerShard: z
    .int()
    .min(0)
    .max(5)
    .default(0)
    .describe("Streaming replicas per shard besides the primary (at most DBPLANE_QUOTA_MAX_REPLICAS)"),
  postgresVersion: z
    .int()
    .min(15)
    .max(18)
    .optional()
    .describe(
      "PostgreSQL major version, 15 or later (the reshard role's grant needs it); absent: the provisioner chooses (local driver: the newest installed on its machine; Kubernetes: 17) and its events carry the choice",
    ),
  storage: z
    .strictObject({
      size: quantity.describe(
        "Volume size per server, a Kubernetes quantity such as 10Gi (at most DBPLANE_QUOTA_MAX_STORAGE)",
      ),
      storageClass: z
        .string()
        .min(1)
        .max(253)
        .optional()
        .describe(
          "StorageClass; the cluster default if absent (one of DBPLANE_QUOTA_STORAGE_CLASSES when set)",
        ),
    })
    .default({ size: "10Gi" })
    .describe("Storage of each server (default 10Gi on the cluster's default StorageClass)"),
  resources: z
    .strictObject({
      cpu: quantity.optional().describe("CPU per server, e.g. 500m or 2"),
      memory: quantity.optional().describe("Memory per server, e.g. 1Gi"),
    })
    .optional()
    .describe("Compute resources of each server"),
  shardedTables: z
    .array(shardedTable)
    .default([])
    .refine((tables) => new Set(tables.map((t) => t.table)).size === tables.length, "tables must be unique")
    .describe("Tables distributed by key; all other tables live on every shard"),
  synchronous: z
    .strictObject({
      replicas: z
        .int()
        .min(1)
        .max(5)
        .describe(
          "How many replicas must have flushed a commit before it is acknowledged (ANY n); at most replicasPerShard",
        ),
    })
    .optional()
    .describe("Synchronous mode: a write acknowledged to a client survives the loss of the primary"),
  backup: backupPolicy.optional(),
});

export const createDatabase = defineCommand({
  service: "provisioner",
  name: "create-database",
  schema: databaseSpec,
  summary: "Create a (possibly sharded) PostgreSQL database.",
});

export const deleteDatabase = defineCommand({
  service: "provisioner",
  name: "delete-database",
  schema: z.strictObject({
    name: databaseName,
    keepVolumes: z.boolean().default(true).describe("Keep the data volumes so the data can be recovered"),
  }),
  summary: "Delete a database and the resources dbplane created for it.",
});

export const addShard = defineCommand({
  service: "provisioner",
  name: "add-shard",
  sentBy: ["router"],
  schema: z.strictObject({
    name: databaseName,
    count: z
      .int()
      .min(1)
      .max(64)
      .default(1)
      .describe("Number of shards to add (the total at most DBPLANE_QUOTA_MAX_SHARDS)"),
  }),
  summary: "Add empty shards to a database (the router moves ranges onto them).",
});

export const removeShard = defineCommand({
  service: "provisioner",
  name: "remove-shard",
  sentBy: ["router"],
  schema: z.strictObject({
    name: databaseName,
    shard: shardIndex.describe(
      "The shard to remove: the database's last one, owning no range in the latest shard map the router published",
    ),
  }),
  summary:
    "Remove a database's last shard, one that serves nothing (e.g. added for a split that was cancelled); its servers and volumes are dropped.",
});

export const scaleReplicas = defineCommand({
  service: "provisioner",
  name: "scale-replicas",
  schema: z.strictObject({
    name: databaseName,
    shard: shardIndex.optional().describe("Shard to scale; every shard if absent"),
    replicas: z.int().min(0).max(5).describe("Streaming replicas besides the primary"),
  }),
  summary: "Change the number of read replicas of one shard or all shards.",
});

export const runBackup = defineCommand({
  service: "provisioner",
  name: "run-backup",
  sentBy: ["scheduler"],
  schema: z.strictObject({
    name: databaseName,
    shard: shardIndex.optional().describe("Shard to back up; every shard if absent"),
    backupId: identifier
      .optional()
      .describe(
        "Caller-chosen id; a repeated id is the same backup. Absent (a scheduled backup): derived from the message id, one backup per occurrence",
      ),
  }),
  summary: "Take a base backup of one shard or all shards.",
});

export const databaseRequested = defineEvent({
  service: "provisioner",
  name: "database.requested",
  schema: databaseSpec.extend({
    postgresVersion: z
      .int()
      .min(14)
      .max(18)
      .describe("PostgreSQL major version (as asked for, or as chosen)"),
    version: z.int().min(1).describe("Desired-state version; increases with every accepted change"),
  }),
  summary: "A database's desired state was accepted; provisioning starts.",
});

export const databaseReady = defineEvent({
  service: "provisioner",
  name: "database.ready",
  schema: z.strictObject({
    name: databaseName,
    version: z.int().min(1).describe("Desired-state version that is now fully in place"),
    postgresVersion: z.int().min(14).max(18).describe("PostgreSQL major version"),
    shards: z.array(shardEndpoint).min(1).describe("Every shard and how to reach it"),
    shardedTables: z
      .array(shardedTable)
      .default([])
      .describe("Tables distributed by key, as in the database's spec; all other tables live on every shard"),
    application: applicationRole
      .optional()
      .describe(
        "The application role applications and the router connect as; absent from older provisioners",
      ),
    ranges: shardMapRanges
      .optional()
      .describe(
        "A restored database's keyspace ranges: its source's shard map at the restore's moment, for the router's first map of it (absent: equal ranges)",
      ),
  }),
  summary: "Every shard of a database is ready.",
});

export const databaseFailed = defineEvent({
  service: "provisioner",
  name: "database.failed",
  schema: z.strictObject({ name: databaseName, reason }),
  summary: "Provisioning a database failed and will not be retried on its own.",
});

export const databaseDeleted = defineEvent({
  service: "provisioner",
  name: "database.deleted",
  schema: z.strictObject({
    name: databaseName,
    volumesKept: z.boolean().describe("Whether the data volumes were kept"),
  }),
  summary: "A database and its resources are gone.",
});

export const shardReady = defineEvent({
  service: "provisioner",
  name: "shard.ready",
  schema: shardEndpoint.extend({ database: databaseName }),
  summary: "A shard's primary (and its replicas) accept connections.",
});

export const shardRemoved = defineEvent({
  service: "provisioner",
  name: "shard.removed",
  schema: z.strictObject({
    database: databaseName,
    shard: shardIndex,
    version: z.int().min(1).describe("Desired-state version without the shard"),
  }),
  summary: "A shard that owned no range is gone: its servers and volumes were dropped.",
});

export const shardFailed = defineEvent({
  service: "provisioner",
  name: "shard.failed",
  schema: z.strictObject({ database: databaseName, shard: shardIndex, reason }),
  summary: "A shard could not be brought up.",
});

export const shardFailedOver = defineEvent({
  service: "provisioner",
  name: "shard.failed-over",
  schema: z.strictObject({
    database: databaseName,
    shard: shardIndex,
    oldPrimary: endpoint.describe(
      "The primary that stopped answering; fenced (stopped, never started as a primary again)",
    ),
    newPrimary: endpoint.describe("The promoted replica, now the shard's primary"),
    lsn: z
      .string()
      .regex(/^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/)
      .describe("WAL position the promoted replica had received when it was chosen (pg_lsn text)"),
    replicas: z.array(endpoint).describe("The replicas that now follow the new primary"),
  }),
  summary:
    "A shard's primary was down longer than the failover grace: its most advanced replica was promoted in its place.",
});

export const backupCompleted = defineEvent({
  service: "provisioner",
  name: "backup.completed",
  schema: z
    .strictObject({
      database: databaseName,
      shard: shardIndex,
      backupId: identifier,
      location: z.string().min(1).describe("Where the backup is stored (URL or path)"),
      bytes: z.int().min(0).describe("Size of the backup in bytes"),
      startedAt: timestamp.describe("When the backup started"),
      completedAt: timestamp.describe("When the backup completed"),
    })
    .refine((b) => Date.parse(b.completedAt) >= Date.parse(b.startedAt), {
      message: "completedAt must not be before startedAt",
      path: ["completedAt"],
    }),
  summary: "A shard's backup completed.",
});

export const backupFailed = defineEvent({
  service: "provisioner",
  name: "backup.failed",
  schema: z.strictObject({ database: databaseName, shard: shardIndex, backupId: identifier, reason }),
  summary: "A shard's backup failed.",
});

export type CreateDatabase = MessageData<typeof createDatabase>;
export type DeleteDatabase = MessageData<typeof deleteDatabase>;
export type AddShard = MessageData<typeof addShard>;
export type RemoveShard = MessageData<typeof removeShard>;
export type ScaleReplicas = MessageData<typeof scaleReplicas>;
export type RunBackup = MessageData<typeof runBackup>;
export type BackupPolicy = z.output<typeof backupPolicy>;
export type DatabaseRequested = MessageData<typeof databaseRequested>;
export type DatabaseReady = MessageData<typeof databaseReady>;
export type DatabaseFailed = MessageData<typeof databaseFailed>;
export type DatabaseDeleted = MessageData<typeof databaseDeleted>;
export type ShardReady = MessageData<typeof shardReady>;
export type ShardRemoved = MessageData<typeof shardRemoved>;
export type ShardFailed = MessageData<typeof shardFailed>;
export type ShardFailedOver = MessageData<typeof shardFailedOver>;
export type BackupCompleted = MessageData<typeof backupCompleted>;
export type BackupFailed = MessageData<typeof backupFailed>;
