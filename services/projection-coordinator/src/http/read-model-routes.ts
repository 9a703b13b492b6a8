import type { ProjectionRuntime } from "@dbplane/projections";
import type { HttpApp } from "@dbplane/service-kit";
import type pg from "pg";
import { z } from "zod";
import { decodeAuditCursor } from "../domain/audit-cursor.ts";
import { queryAudit } from "../projections/audit-queries.ts";
import { readFleet } from "../projections/fleet-queries.ts";

const isoTime = z.iso.datetime({ offset: true }).transform((s) => new Date(s));
const auditQuery = z.object({
  from: isoTime.optional().describe("Inclusive lower bound of the event time (RFC 3339)"),
  to: isoTime.optional().describe("Exclusive upper bound of the event time (RFC 3339)"),
  type: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe("CloudEvents type, e.g. io.dbplane.provisioner.database.ready.v1"),
  subject: z.string().min(1).max(512).optional().describe("CloudEvents subject (the aggregate)"),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
  cursor: z.string().max(1_000).optional(),
  order: z
    .enum(["asc", "desc"])
    .default("asc")
    .describe("asc: oldest first (default); desc: newest first, the cursor paging back in time"),
});
const auditPage = z.object({
  generation: z.int().nullable(),
  items: z.array(
    z.object({
      seq: z.number(),
      id: z.string(),
      type: z.string(),
      source: z.string(),
      subject: z.string(),
      time: z.string(),
      correlationid: z.string().nullable(),
      data: z.unknown(),
    }),
  ),
  nextCursor: z.string().nullable(),
});
const fleetView = z.object({
  generation: z.int().nullable(),
  databases: z.array(z.record(z.string(), z.unknown())),
  apps: z.array(z.record(z.string(), z.unknown())),
});

/** `/v1/fleet` and `/v1/audit`: always from the active generation of each projection. */
export function registerReadModelRoutes(
  app: HttpApp,
  deps: { pool: pg.Pool; runtime: ProjectionRuntime },
): void {
  const { pool, runtime } = deps;
  app.get(
    "/v1/fleet",
    {
      schema: {
        summary: "Databases, shards, health and the apps using them",
        tags: ["read models"],
        response: { 200: fleetView },
      },
    },
    async () => readFleet(pool, runtime.generations, runtime.readSchema),
  );

  app.get(
    "/v1/audit",
    {
      schema: {
        summary: "Every event, by time range, type and subject, oldest first (or newest first)",
        tags: ["read models"],
        querystring: auditQuery,
        response: { 200: auditPage },
      },
    },
    async (request) => {
      const { cursor, ...q } = request.query;
      return queryAudit(pool, runtime.generations, runtime.readSchema, {
        ...q,
        after: cursor ? decodeAuditCursor(cursor) : undefined,
      });
    },
  );
}
