import type { HttpApp } from "@dbplane/service-kit";
import { z } from "zod";
import type { SchedulerStore } from "../store/scheduler-store.ts";
import { found } from "./found.ts";
import { jobIdParams, runPage, toRunResource } from "./job-schemas.ts";

const runsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
  cursor: z.string().max(1_000).optional(),
  outcome: z.enum(["fired", "missed", "failed"]).optional(),
});

/** `/v1/jobs/:id/runs`: a job's recorded occurrences, newest first. */
export function registerJobRunRoutes(app: HttpApp, deps: { store: SchedulerStore }): void {
  app.get(
    "/v1/jobs/:id/runs",
    {
      schema: {
        summary: "A job's runs (fired, missed, failed), newest first",
        tags: ["jobs"],
        params: jobIdParams,
        querystring: runsQuery,
        response: { 200: runPage },
      },
    },
    async (request) => {
      const { id } = request.params;
      found(await deps.store.get(id), id);
      const page = await deps.store.listRuns(id, request.query);
      return { items: page.items.map(toRunResource), nextCursor: page.nextCursor };
    },
  );
}
