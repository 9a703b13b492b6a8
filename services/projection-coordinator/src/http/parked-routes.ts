import type { ParkedEvent, ProjectionRuntime } from "@dbplane/projections";
import type { HttpApp } from "@dbplane/service-kit";
import { z } from "zod";

const parkedResource = z.object({
  id: z.number(),
  projection: z.string(),
  generation: z.int(),
  partition: z.int(),
  streamSeq: z.number(),
  reason: z.string(),
  attempts: z.int(),
  state: z.enum(["parked", "resolved"]),
  parkedAt: z.string(),
  resolvedAt: z.string().nullable(),
  event: z.record(z.string(), z.unknown()).describe("The CloudEvent as read from the stream"),
});
const listQuery = z.object({
  projection: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,30}$/, "must be a projection name")
    .optional(),
  state: z.enum(["parked", "resolved"]).optional(),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
  after: z.coerce.number().int().min(0).optional().describe("Id of the last item of the previous page"),
});
const idParams = z.object({ id: z.coerce.number().int().min(1) });

const toResource = (p: ParkedEvent): z.input<typeof parkedResource> => ({
  ...p,
  event: p.event as unknown as Record<string, unknown>,
  parkedAt: p.parkedAt.toISOString(),
  resolvedAt: p.resolvedAt?.toISOString() ?? null,
});

/** `/v1/parked`: events a projection could not apply, and re-applying one after a fix. */
export function registerParkedRoutes(app: HttpApp, deps: { runtime: ProjectionRuntime }): void {
  app.get(
    "/v1/parked",
    {
      schema: {
        summary: "Parked (poison) events, oldest first",
        tags: ["parked"],
        querystring: listQuery,
        response: { 200: z.object({ items: z.array(parkedResource), nextAfter: z.number().nullable() }) },
      },
    },
    async (request) => {
      const items = await deps.runtime.parked.list(request.query);
      return {
        items: items.map(toResource),
        nextAfter: items.length === request.query.limit ? (items.at(-1)?.id ?? null) : null,
      };
    },
  );

  app.post(
    "/v1/parked/:id/retry",
    {
      config: { scope: "admin" },
      schema: {
        summary: "Re-apply a parked event through its projection's handler (422 if it still fails)",
        tags: ["parked"],
        params: idParams,
        response: { 200: parkedResource },
      },
    },
    async (request) =>
      toResource(
        await deps.runtime.parked.retry(request.params.id, deps.runtime.definitions, deps.runtime.readSchema),
      ),
  );
}
