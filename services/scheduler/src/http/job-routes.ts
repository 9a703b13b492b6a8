import { type HttpApp, HttpError, type Principal } from "@dbplane/service-kit";
import { z } from "zod";
import { isServiceOwnerId } from "../domain/service-targets.ts";
import type { JobAdmin } from "../jobs/job-admin.ts";
import { type JobOwner, JobState } from "../store/job-rows.ts";
import { MAX_BATCH_JOBS } from "../store/job-upsert.ts";
import type { SchedulerStore } from "../store/scheduler-store.ts";
import { found } from "./found.ts";
import { jobBody, jobIdParams, jobPage, jobResource, toJobResource } from "./job-schemas.ts";

const listQuery = z.object({
  state: z.enum(Object.values(JobState) as [JobState, ...JobState[]]).optional(),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
  cursor: z.string().max(1_000).optional(),
});

/**
 * The token's subject and scopes: every route that changes jobs requires a token. `service:` is
 * the owner prefix of the services scheduling over NATS, judged by what they may publish rather
 * than by scopes: a token named so could otherwise pass for one.
 */
function callerOf(request: { readonly principal: Principal | null }): JobOwner {
  const principal = request.principal;
  if (!principal) throw new Error("a job route ran without a verified token");
  if (isServiceOwnerId(principal.sub)) {
    throw new HttpError(
      403,
      "RESERVED_OWNER",
      `a token whose subject starts with "service:" cannot own jobs: the prefix names dbplane's services scheduling over NATS`,
    );
  }
  return { id: principal.sub, scopes: principal.scopes };
}

const triggered = z.object({
  job: jobResource,
  scheduledAt: z.string().describe("The extra occurrence's scheduled time (the database's now)"),
  messageId: z.string().describe("Its Nats-Msg-Id"),
});

const batchBody = z.object({
  jobs: z
    .array(jobBody)
    .min(1)
    .max(MAX_BATCH_JOBS)
    .describe("Job definitions as `POST /v1/jobs` takes them, ids distinct"),
});

const batchResult = z.object({
  items: z
    .array(
      z.object({
        id: z.string(),
        outcome: z.enum(["created", "updated", "unchanged"]),
        state: z.enum(Object.values(JobState) as [JobState, ...JobState[]]),
        nextRunAt: z.string().nullable(),
        version: z.int(),
      }),
    )
    .describe("One per job, in the order given; `GET /v1/jobs/:id` reads a job whole"),
});

/** `/v1/jobs`: create or replace (one, or a batch), list, read, cancel, pause, resume, trigger. */
export function registerJobRoutes(app: HttpApp, deps: { jobs: JobAdmin; store: SchedulerStore }): void {
  const { jobs, store } = deps;

  app.post(
    "/v1/jobs",
    {
      config: { scope: "jobs:write" },
      schema: {
        summary: "Create or replace a job by its id (201 created, 200 replaced or unchanged)",
        tags: ["jobs"],
        body: jobBody,
        response: { 200: jobResource, 201: jobResource },
      },
    },
    async (request, reply) => {
      const { outcome, job } = await jobs.upsert(request.body, callerOf(request));
      reply.header("location", `/v1/jobs/${encodeURIComponent(job.id)}`);
      reply.header("x-dbplane-upsert", outcome);
      return reply.code(outcome === "created" ? 201 : 200).send(toJobResource(job));
    },
  );

  app.post(
    "/v1/jobs/batch",
    {
      config: { scope: "jobs:write" },
      schema: {
        summary: `Create or replace up to ${MAX_BATCH_JOBS} jobs in one transaction: all saved, or none (the error names jobs.<index>)`,
        tags: ["jobs"],
        body: batchBody,
        response: { 200: batchResult },
      },
    },
    async (request) => {
      const results = await jobs.upsertMany(request.body.jobs, callerOf(request));
      return {
        items: results.map(({ outcome, job }) => ({
          id: job.id,
          outcome,
          state: job.state,
          nextRunAt: job.nextRunAt?.toISOString() ?? null,
          version: job.version,
        })),
      };
    },
  );

  app.get(
    "/v1/jobs",
    {
      schema: {
        summary: "List jobs by id, optionally by state",
        tags: ["jobs"],
        querystring: listQuery,
        response: { 200: jobPage },
      },
    },
    async (request) => {
      const page = await store.list(request.query);
      return { items: page.items.map(toJobResource), nextCursor: page.nextCursor };
    },
  );

  app.get(
    "/v1/jobs/:id",
    {
      schema: { summary: "Read a job", tags: ["jobs"], params: jobIdParams, response: { 200: jobResource } },
    },
    async (request) => toJobResource(found(await store.get(request.params.id), request.params.id)),
  );

  app.delete(
    "/v1/jobs/:id",
    {
      config: { scope: "jobs:write" },
      schema: {
        summary: "Cancel a job: no further occurrence fires; its runs are kept",
        tags: ["jobs"],
        params: jobIdParams,
        response: { 200: jobResource },
      },
    },
    async (request) =>
      toJobResource(found(await jobs.cancel(request.params.id, callerOf(request)), request.params.id)),
  );

  for (const action of ["pause", "resume"] as const) {
    app.post(
      `/v1/jobs/:id/${action}`,
      {
        config: { scope: "jobs:write" },
        schema: {
          summary:
            action === "pause"
              ? "Pause a job: occurrences while paused are neither fired nor missed"
              : "Resume a paused job from now (occurrences slept through are not caught up)",
          tags: ["jobs"],
          params: jobIdParams,
          response: { 200: jobResource },
        },
      },
      async (request) =>
        toJobResource(found(await jobs[action](request.params.id, callerOf(request)), request.params.id)),
    );
  }

  app.post(
    "/v1/jobs/:id/trigger",
    {
      config: { scope: "jobs:write" },
      schema: {
        summary: "Fire one extra occurrence now, besides the schedule",
        tags: ["jobs"],
        params: jobIdParams,
        response: { 202: triggered },
      },
    },
    async (request, reply) => {
      const result = found(await jobs.trigger(request.params.id, callerOf(request)), request.params.id);
      const scheduledAt = result.scheduledAt.toISOString();
      return reply.code(202).send({
        job: toJobResource(result.job),
        scheduledAt,
        messageId: `${result.job.id}:${scheduledAt}`,
      });
    },
  );
}
