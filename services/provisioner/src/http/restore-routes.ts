import { randomUUID } from "node:crypto";
import { ConflictError, type HttpApp, NotFoundError, ValidationError } from "@dbplane/service-kit";
import { RestoreRefusedError, restoreSpec } from "../backups/restore-plan.ts";
import { UnknownShardMapError } from "../backups/restore-shard-map.ts";
import type { DatabaseAdmin } from "../databases/database-admin.ts";
import type { Queries } from "../store/queries.ts";
import { acceptedReply } from "./database-routes.ts";
import { accepted, backupPolicyBody, nameParams, restoreBody } from "./schemas.ts";

/**
 * `POST /v1/databases/:name/restores`: a new database (`into`) made from the source's backups,
 * every shard recovered to the same moment, with its own shard map. Followed like a create: 202
 * and the create's operation; the same request again is the same restore.
 */
export function registerRestoreRoutes(app: HttpApp, deps: { admin: DatabaseAdmin; queries: Queries }): void {
  const tags = ["databases"];
  const config = { scope: "db:{name}:admin" };
  app.put(
    "/v1/databases/:name/backup",
    {
      config,
      schema: {
        summary:
          "Set the backup policy (202): the schedule is registered with the scheduler, the servers start archiving WAL",
        tags,
        params: nameParams,
        body: backupPolicyBody,
        response: { 202: accepted },
      },
    },
    async (request, reply) =>
      acceptedReply(reply, await deps.admin.setBackupPolicy(request.params.name, request.body, randomUUID())),
  );
  app.delete(
    "/v1/databases/:name/backup",
    {
      config,
      schema: {
        summary: "Remove the backup policy (202): the scheduler job is cancelled; backups taken are kept",
        tags,
        params: nameParams,
        response: { 202: accepted },
      },
    },
    async (request, reply) =>
      acceptedReply(reply, await deps.admin.setBackupPolicy(request.params.name, null, randomUUID())),
  );
  app.post(
    "/v1/databases/:name/restores",
    {
      config: { scope: "admin" },
      schema: {
        summary:
          "Restore a database into a new one (202), to the end of a backup or to a point in time within GET …/backups' window",
        tags: ["databases"],
        params: nameParams,
        body: restoreBody,
        response: { 202: accepted },
      },
    },
    async (request, reply) => {
      const source = await deps.queries.database(request.params.name);
      if (!source) throw new NotFoundError(`database "${request.params.name}" does not exist`);
      // A deleted source restores from its kept backups: its map history and (local) superuser
      // password were kept at the delete; its moments end there.
      const deletedAt = source.state === "deleted" ? source.updatedAt : undefined;
      // The new database's map: the source's in force at the restore's moment (409 when unknown).
      const owners = deletedAt ? undefined : await deps.queries.shardOwners(source.name);
      const maps = { history: await deps.queries.shardMaps(source.name), current: owners?.mapVersion };
      const rows = await deps.queries.backups(source.name);
      let spec: ReturnType<typeof restoreSpec>;
      try {
        spec = restoreSpec(source.spec, rows, request.body, new Date(), { deletedAt, maps });
      } catch (err) {
        if (err instanceof RestoreRefusedError) throw new ValidationError(err.message, { cause: err });
        if (err instanceof UnknownShardMapError)
          throw new ConflictError(`"${source.name}" cannot be restored to that moment: ${err.message}`, {
            cause: err,
          });
        throw err;
      }
      return acceptedReply(reply, await deps.admin.create(spec, randomUUID()));
    },
  );
}
