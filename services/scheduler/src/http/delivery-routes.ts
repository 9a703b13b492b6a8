import { type HttpApp, NotFoundError } from "@dbplane/service-kit";
import { z } from "zod";
import type { DeliveryRecord } from "../store/deliveries.ts";
import type { SchedulerStore } from "../store/scheduler-store.ts";
import { found } from "./found.ts";

const instant = z.string().describe("RFC 3339, UTC");

const attemptResource = z.object({
  attempt: z.int().describe("1 for the first"),
  replica: z.string().describe("The replica that made it"),
  startedAt: instant,
  finishedAt: instant.nullable().describe("Null while in flight"),
  outcome: z
    .string()
    .nullable()
    .describe(
      "success, client_error, retryable_status, timeout, network_error, refused, lost; null while in flight",
    ),
  statusCode: z.int().nullable().describe("The response's HTTP status, when one came"),
  durationMs: z.int().nullable().describe("To the response's status line or the failure"),
  error: z.string().nullable(),
});

const deliveryResource = z
  .object({
    jobId: z.string(),
    scheduledAt: instant,
    idempotencyKey: z.string().describe("Sent as Idempotency-Key and ce-id on every attempt"),
    state: z.enum(["pending", "running", "buffered", "succeeded", "failed", "skipped"]),
    attemptCount: z.int(),
    maxAttempts: z.int(),
    nextAttemptAt: instant.nullable().describe("A pending delivery's next attempt; null once it ended"),
    deliverBy: instant.describe("No attempt starts later (scheduledAt + maxLatenessMs)"),
    lastStatus: z.int().nullable(),
    lastError: z.string().nullable(),
    finishedAt: instant.nullable(),
    attempts: z.array(attemptResource).describe("Oldest first"),
  })
  .describe("The webhook delivery of one occurrence of an http job");

const params = z.object({
  id: z.string().min(1).max(200).describe("Job id"),
  scheduledAt: z.iso
    .datetime({ offset: true })
    .transform((s) => new Date(s))
    .describe("The run's scheduled time (RFC 3339), as the run lists it"),
});

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** `/v1/jobs/:id/runs/:scheduledAt/deliveries`: one http run's delivery and each attempt. */
export function registerDeliveryRoutes(app: HttpApp, deps: { store: SchedulerStore }): void {
  app.get(
    "/v1/jobs/:id/runs/:scheduledAt/deliveries",
    {
      schema: {
        summary: "The webhook delivery of an http job's run, with every attempt (status, duration, error)",
        tags: ["jobs"],
        params,
        response: { 200: deliveryResource },
      },
    },
    async (request) => {
      const { id, scheduledAt } = request.params;
      found(await deps.store.get(id), id);
      const delivery = await deps.store.getDelivery(id, scheduledAt);
      if (!delivery) {
        throw new NotFoundError(`job ${JSON.stringify(id)} has no delivery for ${scheduledAt.toISOString()}`);
      }
      return toDeliveryResource(delivery);
    },
  );
}

function toDeliveryResource(d: DeliveryRecord): z.infer<typeof deliveryResource> {
  return {
    jobId: d.jobId,
    scheduledAt: d.scheduledAt.toISOString(),
    idempotencyKey: `${d.jobId}:${d.scheduledAt.toISOString()}`,
    state: d.state,
    attemptCount: d.attemptCount,
    maxAttempts: d.maxAttempts,
    nextAttemptAt: iso(d.nextAttemptAt),
    deliverBy: d.deliverBy.toISOString(),
    lastStatus: d.lastStatus,
    lastError: d.lastError,
    finishedAt: iso(d.finishedAt),
    attempts: d.attempts.map((a) => ({
      ...a,
      startedAt: a.startedAt.toISOString(),
      finishedAt: iso(a.finishedAt),
    })),
  };
}
