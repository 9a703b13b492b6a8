import type { HttpApp } from "@dbplane/service-kit";
import { z } from "zod";
import type { SchedulerStore } from "../store/scheduler-store.ts";
import { found } from "./found.ts";
import { jobIdParams, runPage, toRunResource } from "./job-schemas.ts";

const outcome = z.enum(["fired", "missed", "failed"]);

const runsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
  cursor: z.string().max(1_000).optional(),
  outcome: outcome.optional(),
});

const allRunsQuery = z.object({
  state: outcome.optional().describe("Only runs with this outcome"),
  since: z.iso
    .datetime({ offset: true })
    .transform((s) => new Date(s))
    .optional()
    .describe("Only runs recorded at or after this instant (RFC 3339)"),
  job: z.string().min(1).max(200).optional().describe("Only this job's runs"),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
  cursor: z.string().max(1_000).optional().describe("The `nextCursor` of the previous page"),
});

/** `/v1/jobs/:id/runs`: a job's recorded occurrences, newest first; `/v1/runs`: every job's. */
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

  app.get(
    "/v1/runs",
    {
      schema: {
        summary:
          "Runs of every job, newest recorded first (then by job id and scheduled time), by outcome, time and job; cursor-paged",
        tags: ["jobs"],
        querystring: allRunsQuery,
        response: { 200: runPage },
      },
    },
    async (request) => {
      const { state, since, job, limit, cursor } = request.query;
      const page = await deps.store.listAllRuns({ outcome: state, since, job, limit, cursor });
      return { items: page.items.map(toRunResource), nextCursor: page.nextCursor };
    },
  );
}
