import { type HttpApp, NotFoundError } from "@dbplane/service-kit";
import type { Queries } from "../store/queries.ts";
import { operationParams, operationResource, toOperationResource } from "./schemas.ts";

/** `/v1/operations/:id`: how long work started by a 202 (or a command) ended. */
export function registerOperationRoutes(app: HttpApp, deps: { queries: Queries }): void {
  app.get(
    "/v1/operations/:id",
    {
      schema: {
        summary: "An operation: pending, succeeded or failed (with the reason)",
        tags: ["operations"],
        params: operationParams,
        response: { 200: operationResource },
      },
    },
    async (request) => {
      const op = await deps.queries.operation(request.params.id);
      if (!op) throw new NotFoundError(`operation "${request.params.id}" does not exist`);
      return toOperationResource(op);
    },
  );
}
