import { randomUUID } from "node:crypto";
import { type HttpApp, NotFoundError } from "@dbplane/service-kit";
import { restorableWindow } from "../backups/restore-plan.ts";
import type { DatabaseAdmin } from "../databases/database-admin.ts";
import type { Accepted } from "../store/desired-state.ts";
import type { Queries } from "../store/queries.ts";
import {
  accepted,
  addShardsBody,
  backupBody,
  backupList,
  createBody,
  databaseList,
  databaseResource,
  deleteQuery,
  nameParams,
  scaleReplicasBody,
  shardParams,
  toDatabaseResource,
} from "./schemas.ts";

const toWindow = (w: { earliest: Date; latest: Date } | null) =>
  w && { earliest: w.earliest.toISOString(), latest: w.latest.toISOString() };

/** 202 with where to follow the work (DESIGN.md: long work answers 202 with an operation id). */
export function acceptedReply<R>(
  reply: { header(name: string, value: string): unknown; code(status: 202): { send(body: unknown): R } },
  result: Accepted,
): R {
  const status = `/v1/operations/${encodeURIComponent(result.operationId)}`;
  reply.header("location", status);
  return reply.code(202).send({ ...result, status });
}

/** `/v1/databases`: desired state in, status out. Never a password, only where it lives. */
export function registerDatabaseRoutes(app: HttpApp, deps: { admin: DatabaseAdmin; queries: Queries }): void {
  const { admin, queries } = deps;
  const tags = ["databases"];
  /** Route options of a change to the database `:name`: answered 202 with the operation to follow. */
  const change = <S extends object>(summary: string, schema: S) => ({
    config: { scope: "db:{name}:admin" },
    schema: { summary, tags, params: nameParams, ...schema, response: { 202: accepted } },
  });
  /** Route options of a read of the database `:name`. */
  const read = <R>(summary: string, response: R) => ({
    schema: { summary, tags, params: nameParams, response: { 200: response } },
  });
  const liveDatabase = async (name: string) => {
    const db = await queries.database(name);
    if (!db || db.state === "deleted") throw new NotFoundError(`database "${name}" does not exist`);
    return db;
  };

  app.post(
    "/v1/databases",
    {
      config: { scope: "admin" },
      schema: {
        summary:
          "Create a database (202); the same request again is idempotent, another spec for the name is 409",
        tags,
        body: createBody,
        response: { 202: accepted },
      },
    },
    async (request, reply) => acceptedReply(reply, await admin.create(request.body, randomUUID())),
  );

  app.get(
    "/v1/databases",
    { schema: { summary: "List databases (deleted ones left out)", tags, response: { 200: databaseList } } },
    async () => {
      const dbs = await queries.databases();
      const shards = await queries.shardsOf(dbs.map((d) => d.name));
      return { items: dbs.map((db) => toDatabaseResource(db, shards.get(db.name) ?? [])) };
    },
  );

  app.get(
    "/v1/databases/:name",
    read("A database: state, version, and per shard its state and endpoints", databaseResource),
    async (request) => {
      const db = await liveDatabase(request.params.name);
      const owners = await queries.shardOwners(db.name);
      return {
        ...toDatabaseResource(db, await queries.shards(db.name)),
        shardMap: owners ? { version: owners.mapVersion, owners: [...owners.owners] } : null,
      };
    },
  );

  app.delete(
    "/v1/databases/:name",
    change("Delete a database and what dbplane made for it (202)", { querystring: deleteQuery }),
    async (request, reply) =>
      acceptedReply(reply, await admin.delete(request.params.name, request.query.keepVolumes, randomUUID())),
  );

  app.post(
    "/v1/databases/:name/shards",
    change("Add empty shards (202)", { body: addShardsBody }),
    async (request, reply) =>
      acceptedReply(reply, await admin.addShards(request.params.name, request.body.count, randomUUID())),
  );

  app.delete(
    "/v1/databases/:name/shards/:shard",
    {
      schema: {
        summary:
          "Remove the last shard (202): refused unless it is the last, not the only one, and owns no range in the router's newest shard map",
        tags,
        params: shardParams,
        response: { 202: accepted },
      },
    },
    async (request, reply) =>
      acceptedReply(reply, await admin.removeShard(request.params.name, request.params.shard, randomUUID())),
  );

  app.post(
    "/v1/databases/:name/replicas",
    change("Set the streaming replicas of one shard or all (202)", { body: scaleReplicasBody }),
    async (request, reply) => {
      const { shard, replicas } = request.body;
      return acceptedReply(
        reply,
        await admin.scaleReplicas(request.params.name, shard, replicas, randomUUID()),
      );
    },
  );

  app.post(
    "/v1/databases/:name/backups",
    change("Back up one shard or all (202); a repeated backupId is the same backup", { body: backupBody }),
    async (request, reply) => {
      const backupId = request.body.backupId ?? `backup-${randomUUID()}`;
      return acceptedReply(
        reply,
        await admin.backup(request.params.name, request.body.shard, backupId, randomUUID()),
      );
    },
  );

  app.get(
    "/v1/databases/:name/backups",
    read("Backups of a database, one item per shard per backup id, oldest id first", backupList),
    async (request) => {
      // A deleted database's backups are kept (and restorable): listed too, its window ending at the delete.
      const db = await queries.database(request.params.name);
      if (!db) throw new NotFoundError(`database "${request.params.name}" does not exist`);
      const rows = await queries.backups(db.name);
      return {
        items: rows.map((b) => ({
          backupId: b.backupId,
          shard: b.shard,
          state: b.state,
          location: b.location,
          bytes: b.bytes,
          reason: b.reason,
          operationId: b.operationId,
          startedAt: b.startedAt?.toISOString() ?? null,
          completedAt: b.completedAt?.toISOString() ?? null,
          startLsn: b.startLsn,
          stopLsn: b.stopLsn,
        })),
        window: toWindow(
          restorableWindow(rows, db.spec.shards, db.state === "deleted" ? db.updatedAt : new Date()),
        ),
      };
    },
  );
}
