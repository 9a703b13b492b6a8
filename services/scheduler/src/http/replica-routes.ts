import type { HttpApp } from "@dbplane/service-kit";
import { z } from "zod";
import type { SchedulerStore } from "../store/scheduler-store.ts";

const instant = z.string().describe("RFC 3339, UTC");

const replicaResource = z
  .object({
    id: z.string().describe("The replica's claim owner name (what jobs show as claimedBy)"),
    startedAt: instant,
    seenAt: instant.describe("Its last heartbeat (every third of a lease)"),
    expiresAt: instant.describe("When it leaves this list unless it beats again"),
    lastTickAt: instant.nullable().describe("The database time of its last completed claim round"),
    clockOffsetMs: z.number().describe("Its estimate of the database's clock minus its own"),
    claims: z.int().describe("Jobs it holds claimed now (unexpired)"),
    held: z.int().describe("Occurrences it holds: armed, publishing or waiting to be recorded"),
    publishBacklog: z.int().describe("Target publishes waiting or awaiting their ack"),
  })
  .describe("A live scheduler replica");

/** `/v1/replicas`: the cluster as the replicas' heartbeats describe it. */
export function registerReplicaRoutes(app: HttpApp, deps: { store: SchedulerStore }): void {
  app.get(
    "/v1/replicas",
    {
      schema: {
        summary: "Live replicas (a heartbeat within the lease), their claims and held occurrences",
        tags: ["cluster"],
        response: { 200: z.object({ items: z.array(replicaResource) }) },
      },
    },
    async () => {
      const replicas = await deps.store.listReplicas();
      return {
        items: replicas.map((r) => ({
          id: r.id,
          startedAt: r.startedAt.toISOString(),
          seenAt: r.seenAt.toISOString(),
          expiresAt: r.expiresAt.toISOString(),
          lastTickAt: r.lastTickAt?.toISOString() ?? null,
          clockOffsetMs: r.clockOffsetMs,
          claims: r.claims,
          held: r.held,
          publishBacklog: r.publishBacklog,
        })),
      };
    },
  );
}
