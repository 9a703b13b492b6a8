import { randomUUID } from "node:crypto";
import { type HttpApp, NotFoundError, ValidationError } from "@dbplane/service-kit";
import { RestoreRefusedError, restoreSpec } from "../backups/restore-plan.ts";
import type { DatabaseAdmin } from "../databases/database-admin.ts";
import type { Queries } from "../store/queries.ts";
import { acceptedReply } from "./database-routes.ts";
import { accepted, nameParams, restoreBody } from "./schemas.ts";

/**
 * `POST /v1/databases/:name/restores`: a new database (`into`) made from the source's backups,
 * every shard recovered to the same moment, with its own shard map. Followed like a create: 202
 * and the create's operation; the same request again is the same restore.
 */
export function registerRestoreRoutes(app: HttpApp, deps: { admin: DatabaseAdmin; queries: Queries }): void {
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
      if (!source || source.state === "deleted") {
        throw new NotFoundError(`database "${request.params.name}" does not exist`);
      }
      const rows = await deps.queries.backups(source.name);
      let spec: ReturnType<typeof restoreSpec>;
      try {
        spec = restoreSpec(source.spec, rows, request.body, new Date());
      } catch (err) {
        if (err instanceof RestoreRefusedError) throw new ValidationError(err.message, { cause: err });
        throw err;
      }
      return acceptedReply(reply, await deps.admin.create(spec, randomUUID()));
    },
  );
}
