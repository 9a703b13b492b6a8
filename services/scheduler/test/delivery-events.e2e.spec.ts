import { jobDelivered, jobDeliveryFailed, jobFired } from "@dbplane/contracts";
import { type HttpClient, httpClient, readEvents, type ServiceReplica, waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSchedulerWorld, type SchedulerWorld } from "./scheduler-world.ts";
import { startWebhookEndpoint, type WebhookEndpoint } from "./webhook-endpoint.ts";

// A short lease: ended deliveries nobody announced are published by any replica a lease later.
const env = {
  DBPLANE_SCHEDULER_WEBHOOK_ALLOW: "127.0.0.1",
  DBPLANE_SCHEDULER_LEASE_MS: "2000",
  DBPLANE_SCHEDULER_HORIZON_MS: "1000",
};

let world: SchedulerWorld;
let replica: ServiceReplica;
let api: HttpClient;
let endpoint: WebhookEndpoint;
beforeAll(async () => {
  endpoint = await startWebhookEndpoint({
    "/second-time": (_req, nth) => (nth === 1 ? 503 : 201),
    "/gone": () => 404,
    "/down": () => 500,
  });
  world = await createSchedulerWorld();
  replica = await world.startReplica({ env });
  api = httpClient(replica.base, world.token());
}, 60_000);
afterAll(async () => {
  await endpoint?.close();
  await world?.dispose();
});

async function fireHook(id: string, path: string, target: Record<string, unknown> = {}): Promise<string> {
  const created = await api.call("POST", "/v1/jobs", {
    id,
    schedule: { kind: "at", at: "2099-01-01T00:00:00Z" },
    target: { kind: "http", url: endpoint.url(path), ...target },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const res = await api.call("POST", `/v1/jobs/${id}/trigger`);
  expect(res.status).toBe(202);
  return res.body.scheduledAt;
}

/** The delivery events about `jobId` once the delivery is recorded as announced. */
async function announced(jobId: string, at: string) {
  const deliveries = `"${world.db.name}".deliveries`;
  await waitFor(
    async () =>
      (
        await world.db.pool.query(
          `SELECT 1 FROM ${deliveries} WHERE job_id = $1 AND scheduled_at = $2 AND announced_at IS NOT NULL`,
          [jobId, at],
        )
      ).rowCount === 1,
    { what: `the end of ${jobId}'s delivery to be announced`, timeoutMs: 20_000 },
  );
  const events = await readEvents(world.nats.nc, world.nats.namespace, "dbplane.evt.scheduler.");
  return events.filter((e) => e.subject === jobId && e.type !== jobFired.type);
}

describe("delivery events", () => {
  it("a delivery that succeeds on its second attempt: one job.delivered with attempts, status and duration", async () => {
    const at = await fireHook("delivered", "/second-time", {
      headers: { authorization: "Bearer evt-secret-77" },
    });
    const events = await announced("delivered", at);
    expect(events).toHaveLength(1);
    expect(events[0]!.raw).not.toContain("evt-secret-77");
    expect(events[0]).toMatchObject({
      type: jobDelivered.type,
      id: `delivered:delivered:${at}`,
      data: { jobId: "delivered", scheduledAt: at, attempts: 2, status: 201 },
    });
    expect(events[0]!.data.durationMs).toEqual(expect.any(Number));
    expect(Date.parse(events[0]!.data.deliveredAt as string)).toBeGreaterThanOrEqual(Date.parse(at));
  });

  it("a 404: one job.delivery-failed, rejected, with the status and one attempt", async () => {
    const at = await fireHook("rejected", "/gone");
    const events = await announced("rejected", at);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: jobDeliveryFailed.type,
      id: `delivery-failed:rejected:${at}`,
      data: { jobId: "rejected", scheduledAt: at, reason: "rejected", attempts: 1, lastStatus: 404 },
    });
  });

  it("maxAttempts used up on 500s: one job.delivery-failed, max-attempts, with the last error", async () => {
    const at = await fireHook("exhausted", "/down", { maxAttempts: 2 });
    const events = await announced("exhausted", at);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: jobDeliveryFailed.type,
      data: { jobId: "exhausted", reason: "max-attempts", attempts: 2, lastStatus: 500 },
    });
    expect(events[0]!.data.lastError).toMatch(/HTTP 500; maxAttempts \(2\) reached/);
    expect(endpoint.received("/down")).toHaveLength(2);
  });

  it("an end recorded by a replica that died before publishing it is published by another, once", async () => {
    // What a replica leaves when it dies between recording the end and publishing it: the run,
    // the delivery ended, its attempt recorded, nothing announced.
    const s = `"${world.db.name}"`;
    const at = new Date(Math.floor((await world.dbNow()).getTime() / 1000) * 1000 - 60_000).toISOString();
    const v = `'${at}'::timestamptz`;
    await world.db.pool.query(
      `INSERT INTO ${s}.runs (job_id, scheduled_at, outcome, fired_at, lateness_ms) VALUES ('orphan', ${v}, 'fired', now(), 0);
       INSERT INTO ${s}.deliveries (job_id, scheduled_at, state, target, attempts, max_attempts, next_attempt_at,
                                    deliver_by, last_status, finished_at)
         VALUES ('orphan', ${v}, 'succeeded', '{"kind":"http","url":"http://127.0.0.1:9/x","timeoutMs":1000}', 1, 5,
                 now(), now() + interval '1 minute', 200, now());
       INSERT INTO ${s}.delivery_attempts (job_id, scheduled_at, attempt, replica, finished_at, outcome, status_code, duration_ms)
         VALUES ('orphan', ${v}, 1, 'dead-replica', now(), 'success', 200, 37);`,
    );
    const events = await announced("orphan", at);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: jobDelivered.type,
      id: `delivered:orphan:${at}`,
      data: { jobId: "orphan", scheduledAt: at, attempts: 1, status: 200, durationMs: 37 },
    });
  });
});
