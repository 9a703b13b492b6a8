import { type BackupPolicy, databaseRequested } from "@dbplane/contracts";
import { inTransaction } from "@dbplane/service-kit";
import type pg from "pg";
import { aggregateOf, type DatabaseSpec, eventIds, sameRequest } from "../domain/database-spec.ts";
import {
  DatabaseConflictError,
  DatabaseNotFoundError,
  InvalidChangeError,
  MAX_SHARDS,
} from "../domain/errors.ts";
import {
  checkDatabaseQuota,
  checkReplicaQuota,
  checkShardQuota,
  checkSpecQuotas,
  type Quotas,
} from "../domain/quotas.ts";
import { acceptsChanges, type OperationKind } from "../domain/states.ts";
import { enqueueEvent } from "./outbox.ts";
import { type DatabaseRow, toDatabase } from "./rows.ts";
import type { ProvisionerTables } from "./schema-tables.ts";
import { forgetShardMaps } from "./shard-map-history.ts";
import { shardOwnersOf } from "./shard-owners.ts";

/** What accepting a request did: `accepted` (new work), `unchanged` (the same request again). */
export interface Accepted {
  readonly outcome: "accepted" | "unchanged";
  readonly operationId: string;
  readonly database: string;
  readonly version: number;
}

interface Ctx {
  readonly client: pg.PoolClient;
  readonly t: ProvisionerTables;
}

/** Locks and reads a database row (any state), or undefined. */
async function lockDatabase({ client, t }: Ctx, name: string): Promise<DatabaseRow | undefined> {
  const { rows } = await client.query(`SELECT * FROM ${t.databases} WHERE name = $1 FOR UPDATE`, [name]);
  return rows[0] ? toDatabase(rows[0]) : undefined;
}

/** The operation an id already names (a redelivered command, a retried request), if any. */
async function existingOperation({ client, t }: Ctx, id: string): Promise<Accepted | undefined> {
  const { rows } = await client.query(
    `SELECT o.id, o.database, d.version FROM ${t.operations} o JOIN ${t.databases} d ON d.name = o.database WHERE o.id = $1`,
    [id],
  );
  const row = rows[0];
  return row
    ? { outcome: "unchanged", operationId: row.id, database: row.database, version: row.version }
    : undefined;
}

async function insertOperation(
  { client, t }: Ctx,
  op: { id: string; kind: OperationKind; database: string; targetVersion: number; backupId?: string },
): Promise<void> {
  await client.query(
    `INSERT INTO ${t.operations} (id, kind, database, target_version, backup_id, state) VALUES ($1, $2, $3, $4, $5, 'pending')`,
    [op.id, op.kind, op.database, op.targetVersion, op.backupId ?? null],
  );
}

function withoutRestoreSource(spec: DatabaseSpec): Omit<DatabaseSpec, "restoreFrom"> {
  const { restoreFrom: _restoreFrom, ...rest } = spec;
  return rest;
}

async function announceRequested(ctx: Ctx, spec: DatabaseSpec, version: number, correlationId: string) {
  await enqueueEvent(
    ctx.client,
    ctx.t,
    databaseRequested,
    // Where a restored database comes from is the provisioner's own business, not the event's.
    { ...withoutRestoreSource(spec), version },
    {
      id: eventIds.requested(spec.name, version),
      subject: aggregateOf.database(spec.name),
      correlationId,
    },
  );
}

/** A database that exists and is not deleted, locked; else DatabaseNotFoundError. */
async function liveDatabase(ctx: Ctx, name: string): Promise<DatabaseRow> {
  const db = await lockDatabase(ctx, name);
  if (!db || db.state === "deleted") throw new DatabaseNotFoundError(name);
  return db;
}

/** A live database (locked) whose state accepts a change of its spec; else 404 or 409. */
async function changeableDatabase(ctx: Ctx, name: string): Promise<DatabaseRow> {
  const db = await liveDatabase(ctx, name);
  if (!acceptsChanges(db.state)) {
    throw new DatabaseConflictError(`database "${db.name}" is ${db.state} and takes no changes`);
  }
  return db;
}

function checkShardExists(db: DatabaseRow, shard: number | undefined): void {
  if (shard !== undefined && shard >= db.spec.shards) {
    throw new InvalidChangeError(
      "shard",
      `database "${db.name}" has no shard ${shard} (it has ${db.spec.shards})`,
    );
  }
}

/**
 * A shard may go only when nothing can be lost: it is the last one (a gap in the numbering would
 * rename the shards after it), not the only one, and the newest map the router published gives
 * it no range (it serves no key; its rows are copies at most).
 */
async function checkRemovable(ctx: Ctx, db: DatabaseRow, shard: number): Promise<void> {
  const last = db.spec.shards - 1;
  if (shard !== last) {
    throw new InvalidChangeError(
      "shard",
      shard > last
        ? `database "${db.name}" has no shard ${shard} (it has ${db.spec.shards})`
        : `only the last shard of "${db.name}" (shard ${last}) can be removed, not shard ${shard}`,
    );
  }
  if (last === 0) throw new InvalidChangeError("shard", `shard 0 is the only shard of "${db.name}"`);
  const map = await shardOwnersOf(ctx.client, ctx.t, db.name);
  if (!map) {
    throw new DatabaseConflictError(
      `no shard map of "${db.name}" has been published by the router: whether shard ${shard} serves keys is unknown`,
    );
  }
  if (map.owners.includes(shard)) {
    throw new DatabaseConflictError(
      `shard ${shard} of "${db.name}" owns a range in shard map version ${map.mapVersion}: move its keys away first`,
    );
  }
}

/**
 * A deleted database's completed backups are kept (restorable, listed under its name); a
 * database made again under that name would share their backup ids, their place (the archive,
 * which refuses its WAL) and their list. Refused while any are kept, as CloudNativePG refuses to
 * archive into a non-empty object store: restore them into another name, or use another name.
 */
async function checkNoKeptBackups(ctx: Ctx, name: string): Promise<void> {
  const { rows } = await ctx.client.query<{ ids: number }>(
    `SELECT count(DISTINCT backup_id)::int AS ids FROM ${ctx.t.backups} WHERE database = $1 AND state = 'completed'`,
    [name],
  );
  const ids = rows[0]?.ids ?? 0;
  if (ids > 0) {
    throw new DatabaseConflictError(
      `database "${name}" was deleted and its kept backups (${ids}, GET /v1/databases/${name}/backups) still use the name: restore them into a new name (POST /v1/databases/${name}/restores with "into"), or create the database under another name`,
    );
  }
}

/**
 * Refuses a new database when the fleet is full. Creates of different names serialise on a
 * transaction lock first, so two at once cannot both take the last place.
 */
async function checkRoomFor(ctx: Ctx, quotas: Quotas, name: string): Promise<void> {
  await ctx.client.query(
    "SELECT pg_advisory_xact_lock(hashtext('dbplane.provisioner.quota'), hashtext($1))",
    [ctx.t.databases],
  );
  const { rows } = await ctx.client.query<{ live: number }>(
    `SELECT count(*)::int AS live FROM ${ctx.t.databases} WHERE state <> 'deleted' AND name <> $1`,
    [name],
  );
  checkDatabaseQuota(quotas, rows[0]?.live ?? 0);
}

/** Bumps the version, sends the database back to provisioning and announces the new desired state. */
async function applyChange(
  ctx: Ctx,
  db: DatabaseRow,
  spec: DatabaseSpec,
  op: { id: string; kind: OperationKind },
) {
  const version = db.version + 1;
  await ctx.client.query(
    `UPDATE ${ctx.t.databases} SET spec = $2, version = $3, state = 'provisioning', attempts = 0, reason = NULL,
       updated_at = now() WHERE name = $1`,
    [db.name, JSON.stringify(spec), version],
  );
  await insertOperation(ctx, { ...op, database: db.name, targetVersion: version });
  await announceRequested(ctx, spec, version, op.id);
  return { outcome: "accepted", operationId: op.id, database: db.name, version } as const;
}

/**
 * Accepts (or recognises) the desired state of a database and the work to make it real. Each
 * change is idempotent by its operation id: the id of one already recorded (a redelivered
 * command, a retried request) answers with that operation, `unchanged`.
 */
export interface DesiredState {
  /**
   * New name, a deleted name, or a failed one asked for again (retried): accepted. Same request:
   * unchanged. Other spec: 409; a deleted name whose completed backups are kept: 409.
   */
  create(spec: DatabaseSpec, operationId: string): Promise<Accepted>;
  /** Marks the database for deletion; pending create/scale work fails. Deleting twice is one deletion. */
  delete(name: string, keepVolumes: boolean, operationId: string): Promise<Accepted>;
  /** Adds empty shards after the existing ones. */
  addShards(name: string, count: number, operationId: string): Promise<Accepted>;
  /**
   * Removes the database's last shard — refused unless it is the last one (shards are numbered
   * without gaps), not the only one, and owns no range in the newest shard map the router
   * published (the router owns the map; without one the provisioner cannot tell and refuses).
   */
  removeShard(name: string, shard: number, operationId: string): Promise<Accepted>;
  /** Sets the replica count of one shard, or of every shard (and of shards added later). */
  /** Sets (or, with null, removes) the database's backup policy; its servers start archiving on the next pass. */
  setBackupPolicy(name: string, policy: BackupPolicy | null, operationId: string): Promise<Accepted>;
  scaleReplicas(
    name: string,
    shard: number | undefined,
    replicas: number,
    operationId: string,
  ): Promise<Accepted>;
  /** Queues a backup of one shard or all; a repeated backup id is the same backup. */
  backup(name: string, shard: number | undefined, backupId: string, operationId: string): Promise<Accepted>;
}

/**
 * `quotas` bound every new request (a create, shards added, replicas scaled); what already exists
 * is left alone when they are lowered, and the same request again is still `unchanged`.
 */
export function createDesiredState(pool: pg.Pool, t: ProvisionerTables, quotas: Quotas): DesiredState {
  /** `work` in a transaction, unless `operationId` names an operation already recorded. */
  const idempotentChange = (operationId: string, work: (ctx: Ctx) => Promise<Accepted>): Promise<Accepted> =>
    inTransaction(pool, async (client) => {
      const ctx = { client, t };
      return (await existingOperation(ctx, operationId)) ?? work(ctx);
    });
  return {
    create: (spec, operationId) =>
      idempotentChange(operationId, async (ctx) => {
        const db = await lockDatabase(ctx, spec.name);
        if (db && db.state !== "deleted") {
          if (!sameRequest(spec, db.requestedSpec)) {
            throw new DatabaseConflictError(`database "${spec.name}" already exists with a different spec`);
          }
          if (db.state === "deleting")
            throw new DatabaseConflictError(`database "${spec.name}" is being deleted`);
          if (db.state !== "failed") {
            return {
              outcome: "unchanged",
              operationId: db.operationId,
              database: db.name,
              version: db.version,
            };
          }
        }
        checkSpecQuotas(quotas, spec);
        if (db?.state === "deleted") await checkNoKeptBackups(ctx, spec.name);
        await checkRoomFor(ctx, quotas, spec.name);
        if (db?.state === "deleted") {
          // The name made again: the deleted database's map history is not this one's, nor are
          // the rows of its backups that never completed (no files: nothing to restore).
          await forgetShardMaps(ctx.client, t, spec.name);
          await ctx.client.query(`DELETE FROM ${t.backups} WHERE database = $1 AND state <> 'completed'`, [
            spec.name,
          ]);
        }
        const version = (db?.version ?? 0) + 1;
        await ctx.client.query(
          `INSERT INTO ${t.databases} (name, requested_spec, spec, version, state, operation_id)
           VALUES ($1, $2, $2, $3, 'requested', $4)
           ON CONFLICT (name) DO UPDATE SET requested_spec = $2, spec = $2, version = $3, state = 'requested',
             operation_id = $4, reason = NULL, attempts = 0, keep_volumes = true, last_reconciled_at = NULL,
             incarnation = ${t.databases}.incarnation + CASE WHEN ${t.databases}.state = 'deleted' THEN 1 ELSE 0 END,
             updated_at = now()`,
          [spec.name, JSON.stringify(spec), version, operationId],
        );
        await ctx.client.query(`DELETE FROM ${t.shards} WHERE database = $1`, [spec.name]);
        await ctx.client.query(
          `INSERT INTO ${t.shards} (database, shard, replicas, state)
           SELECT $1, n, $2, 'provisioning' FROM generate_series(0, $3 - 1) AS n`,
          [spec.name, spec.replicasPerShard, spec.shards],
        );
        await insertOperation(ctx, {
          id: operationId,
          kind: "create",
          database: spec.name,
          targetVersion: version,
        });
        await announceRequested(ctx, spec, version, operationId);
        return { outcome: "accepted", operationId, database: spec.name, version };
      }),

    delete: (name, keepVolumes, operationId) =>
      idempotentChange(operationId, async (ctx) => {
        const db = await liveDatabase(ctx, name);
        const version = db.state === "deleting" ? db.version : db.version + 1;
        await ctx.client.query(
          `UPDATE ${t.databases} SET state = 'deleting', version = $2, keep_volumes = $3, attempts = 0,
             updated_at = now() WHERE name = $1`,
          [name, version, keepVolumes],
        );
        await ctx.client.query(
          `UPDATE ${t.operations} SET state = 'failed', error = 'the database is being deleted', finished_at = now()
           WHERE database = $1 AND state = 'pending' AND kind <> 'delete'`,
          [name],
        );
        await insertOperation(ctx, {
          id: operationId,
          kind: "delete",
          database: name,
          targetVersion: version,
        });
        return { outcome: "accepted", operationId, database: name, version };
      }),

    addShards: (name, count, operationId) =>
      idempotentChange(operationId, async (ctx) => {
        const db = await changeableDatabase(ctx, name);
        const shards = db.spec.shards + count;
        if (shards > MAX_SHARDS) {
          throw new InvalidChangeError(
            "count",
            `a database has at most ${MAX_SHARDS} shards; it has ${db.spec.shards}`,
          );
        }
        checkShardQuota(quotas, shards, "count");
        await ctx.client.query(
          `INSERT INTO ${t.shards} (database, shard, replicas, state)
           SELECT $1, n, $2, 'provisioning' FROM generate_series($3::int, $4::int - 1) AS n`,
          [name, db.spec.replicasPerShard, db.spec.shards, shards],
        );
        return applyChange(ctx, db, { ...db.spec, shards }, { id: operationId, kind: "add-shard" });
      }),

    removeShard: (name, shard, operationId) =>
      idempotentChange(operationId, async (ctx) => {
        const db = await changeableDatabase(ctx, name);
        await checkRemovable(ctx, db, shard);
        await ctx.client.query(
          `UPDATE ${t.shards} SET state = 'deleting', updated_at = now() WHERE database = $1 AND shard = $2`,
          [name, shard],
        );
        return applyChange(
          ctx,
          db,
          { ...db.spec, shards: db.spec.shards - 1 },
          { id: operationId, kind: "remove-shard" },
        );
      }),

    scaleReplicas: (name, shard, replicas, operationId) =>
      idempotentChange(operationId, async (ctx) => {
        const db = await changeableDatabase(ctx, name);
        checkShardExists(db, shard);
        checkReplicaQuota(quotas, replicas, "replicas");
        await ctx.client.query(
          `UPDATE ${t.shards} SET replicas = $3, state = 'provisioning', updated_at = now()
           WHERE database = $1 AND ($2::int IS NULL OR shard = $2)`,
          [name, shard ?? null, replicas],
        );
        const spec = shard === undefined ? { ...db.spec, replicasPerShard: replicas } : db.spec;
        return applyChange(ctx, db, spec, { id: operationId, kind: "scale-replicas" });
      }),

    setBackupPolicy: (name, policy, operationId) =>
      idempotentChange(operationId, async (ctx) => {
        const db = await changeableDatabase(ctx, name);
        const { backup: _previous, ...rest } = db.spec;
        const spec = policy ? { ...rest, backup: policy } : rest;
        return applyChange(ctx, db, spec, { id: operationId, kind: "backup-policy" });
      }),

    backup: (name, shard, backupId, operationId) =>
      idempotentChange(operationId, async (ctx) => {
        const db = await changeableDatabase(ctx, name);
        checkShardExists(db, shard);
        const { rows } = await ctx.client.query(
          `SELECT operation_id FROM ${t.backups} WHERE database = $1 AND backup_id = $2 LIMIT 1`,
          [name, backupId],
        );
        if (rows[0])
          return {
            outcome: "unchanged",
            operationId: rows[0].operation_id,
            database: name,
            version: db.version,
          };
        await ctx.client.query(
          `INSERT INTO ${t.backups} (database, backup_id, shard, state, operation_id, of_shards)
           SELECT $1, $2, n, 'pending', $3, CASE WHEN $5::int IS NULL THEN $4::int END
           FROM generate_series(0, $4::int - 1) AS n WHERE $5::int IS NULL OR n = $5`,
          [name, backupId, operationId, db.spec.shards, shard ?? null],
        );
        await insertOperation(ctx, {
          id: operationId,
          kind: "backup",
          database: name,
          targetVersion: db.version,
          backupId,
        });
        return { outcome: "accepted", operationId, database: name, version: db.version };
      }),
  };
}
