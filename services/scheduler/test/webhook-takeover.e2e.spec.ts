import { httpClient, type ServiceReplica, waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSchedulerWorld, type SchedulerWorld } from "./scheduler-world.ts";
import { startWebhookEndpoint, type WebhookEndpoint } from "./webhook-endpoint.ts";

// A short lease (and horizon below it) so that a dead replica's delivery returns in seconds.
const env = {
  DBPLANE_SCHEDULER_WEBHOOK_ALLOW: "127.0.0.1",
  DBPLANE_SCHEDULER_LEASE_MS: "2000",
  DBPLANE_SCHEDULER_HORIZON_MS: "1000",
};

let world: SchedulerWorld;
let replicas: ServiceReplica[];
let endpoint: WebhookEndpoint;
beforeAll(async () => {
  // The first request is held open (its replica dies holding it); the retry is answered.
  endpoint = await startWebhookEndpoint({ "/hook": (_req, nth) => (nth === 1 ? "hold" : 200) });
  world = await createSchedulerWorld();
  replicas = await world.startReplicas(2, { env });
}, 60_000);
afterAll(async () => {
  await endpoint?.close();
  await world?.dispose();
});

describe("a replica killed mid-delivery", () => {
  it("another replica retries after the lease, with the same Idempotency-Key; the lost attempt is listed", async () => {
    const api = httpClient(replicas[0]!.base, world.token());
    const created = await api.call("POST", "/v1/jobs", {
      id: "survives",
      schedule: { kind: "at", at: "2099-01-01T00:00:00Z" },
      target: { kind: "http", url: endpoint.url("/hook"), timeoutMs: 1_000 },
    });
    expect(created.status).toBe(201);
    const at: string = (await api.call("POST", "/v1/jobs/survives/trigger")).body.scheduledAt;
    const path = `/v1/jobs/survives/runs/${encodeURIComponent(at)}/deliveries`;
    const running = await waitFor(
      async () => {
        const d = (await api.call("GET", path)).body;
        return endpoint.open("/hook") === 1 && d.attempts?.length === 1 && d;
      },
      { what: "the first attempt to be in flight" },
    );
    const holder = running.attempts[0].replica as string;
    const victim = replicas.find((r) => holder.includes(`:${r.svc.process.pid}:`))!;
    const survivor = replicas.find((r) => r !== victim)!;
    expect(await victim.stop("SIGKILL")).toBe("SIGKILL");

    const done = await waitFor(
      async () => {
        const d = (await httpClient(survivor.base).call("GET", path)).body;
        return d.state === "succeeded" && d;
      },
      { what: "the survivor to deliver it", timeoutMs: 20_000 },
    );
    expect(done.attempts.map((a: { outcome: string }) => a.outcome)).toEqual(["lost", "success"]);
    expect(done.attempts[1].replica).not.toBe(holder);
    const keys = endpoint.received("/hook").map((r) => r.headers["idempotency-key"]);
    expect(keys).toEqual([`survives:${at}`, `survives:${at}`]);
  });
});
