import { type HttpClient, httpClient, type ServiceReplica, waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSchedulerWorld, type SchedulerWorld } from "./scheduler-world.ts";
import { startWebhookEndpoint, type WebhookEndpoint } from "./webhook-endpoint.ts";

const SECRET = "Bearer webhook-secret-0451";

let world: SchedulerWorld;
let replica: ServiceReplica;
let api: HttpClient;
let endpoint: WebhookEndpoint;
beforeAll(async () => {
  endpoint = await startWebhookEndpoint({
    "/flaky": (_req, nth) => (nth <= 2 ? 500 : 200),
    "/gone": () => 404,
    "/slow": () => ({ status: 200, afterMs: 10_000 }),
    "/skip": () => "hold",
    "/all": () => "hold",
    "/buffer": (_req, nth) => (nth === 1 ? "hold" : 200),
  });
  world = await createSchedulerWorld();
  replica = await world.startReplica({ env: { DBPLANE_SCHEDULER_WEBHOOK_ALLOW: "127.0.0.1" } });
  api = httpClient(replica.base, world.token());
}, 60_000);
afterAll(async () => {
  await endpoint?.close();
  await world?.dispose();
});

/** An http job that fires only when triggered (its own occurrence is decades away). */
const hook = (id: string, path: string, target: Record<string, unknown> = {}) => ({
  id,
  schedule: { kind: "at", at: "2099-01-01T00:00:00Z" },
  target: {
    kind: "http",
    url: endpoint.url(path),
    headers: { authorization: SECRET },
    body: { job: id },
    ...target,
  },
});

async function create(job: unknown): Promise<void> {
  const res = await api.call("POST", "/v1/jobs", job);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

/** Fires one occurrence now; returns its scheduled time. */
async function fire(id: string): Promise<string> {
  const res = await api.call("POST", `/v1/jobs/${id}/trigger`);
  expect(res.status).toBe(202);
  return res.body.scheduledAt;
}

async function delivery(id: string, at: string) {
  const res = await api.call("GET", `/v1/jobs/${id}/runs/${encodeURIComponent(at)}/deliveries`);
  return res.status === 200 ? res.body : null;
}

const deliveryIn = (id: string, at: string, state: string, timeoutMs = 10_000) =>
  waitFor(
    async () => {
      const d = await delivery(id, at);
      return d?.state === state && d;
    },
    { what: `delivery of ${id} at ${at} to be ${state}`, timeoutMs },
  );

describe("webhook targets", () => {
  it("a URL to 127.0.0.1 is refused without the allow-list: 400 naming target.url", async () => {
    const unlisted = await world.startReplica();
    try {
      const res = await httpClient(unlisted.base, world.token()).call(
        "POST",
        "/v1/jobs",
        hook("refused", "/x"),
      );
      expect(res.status).toBe(400);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain("body.target.url");
      expect(JSON.stringify(res.body.errors)).toMatch(/loopback/);
    } finally {
      await unlisted.stop();
    }
  });

  it("an endpoint failing twice (500) then answering 200: three attempts, one success, one Idempotency-Key", async () => {
    await create(hook("flaky", "/flaky"));
    const at = await fire("flaky");
    const d = await deliveryIn("flaky", at, "succeeded", 20_000);
    expect(d.attemptCount).toBe(3);
    expect(d.attempts.map((a: { statusCode: number }) => a.statusCode)).toEqual([500, 500, 200]);
    expect(d.attempts.map((a: { outcome: string }) => a.outcome)).toEqual([
      "retryable_status",
      "retryable_status",
      "success",
    ]);
    const key = `flaky:${at}`;
    expect(d.idempotencyKey).toBe(key);
    const received = endpoint.received("/flaky");
    expect(received).toHaveLength(3);
    for (const r of received) {
      expect(r.method).toBe("POST");
      expect(r.headers).toMatchObject({
        "idempotency-key": key,
        "ce-id": key,
        "ce-specversion": "1.0",
        "ce-type": "dev.dbplane.scheduler.job.fired",
        "ce-subject": "flaky",
        "ce-time": at,
        authorization: SECRET,
        "content-type": "application/json",
      });
      expect(r.headers["ce-source"]).toBeTruthy();
      expect(JSON.parse(r.body)).toEqual({ job: "flaky" });
    }
    const runs = await api.call("GET", "/v1/jobs/flaky/runs");
    expect(runs.body.items).toMatchObject([{ scheduledAt: at, outcome: "fired" }]);
    expect(
      await replica.metric("dbplane_scheduler_webhook_attempts_total", { outcome: "retryable_status" }),
    ).toBe(2);
  });

  it("404 ends the delivery after one attempt, failed", async () => {
    await create(hook("gone", "/gone"));
    const at = await fire("gone");
    const d = await deliveryIn("gone", at, "failed");
    expect(d).toMatchObject({ attemptCount: 1, lastStatus: 404, lastError: "HTTP 404" });
    expect(d.attempts).toHaveLength(1);
    expect(endpoint.received("/gone")).toHaveLength(1);
  });

  it("a 10 s endpoint does not delay a NATS job due at the same time", async () => {
    const now = await world.dbNow();
    const at = new Date(Math.ceil((now.getTime() + 3_000) / 1_000) * 1_000).toISOString();
    await create({ ...hook("slow", "/slow", { timeoutMs: 30_000 }), schedule: { kind: "at", at } });
    await create({
      id: "beside-slow",
      schedule: { kind: "at", at },
      target: { subject: world.targetSubject("beside") },
    });
    await waitFor(() => endpoint.open("/slow") === 1, {
      what: "the slow endpoint to be called",
      timeoutMs: 15_000,
    });
    const natsRun = await waitFor(
      async () => (await api.call("GET", "/v1/jobs/beside-slow/runs")).body.items[0],
      { what: "the NATS job's run", timeoutMs: 15_000 },
    );
    expect(natsRun).toMatchObject({ scheduledAt: at, outcome: "fired" });
    // Recorded while the slow request is still open, its delivery still running.
    expect(endpoint.open("/slow")).toBe(1);
    expect((await delivery("slow", at)).state).toBe("running");
    endpoint.release("/slow");
    await deliveryIn("slow", at, "succeeded");
  });

  it("overlap skip: an occurrence while the previous delivery runs is recorded skipped", async () => {
    await create(hook("skipper", "/skip", { overlap: "skip" }));
    const first = await fire("skipper");
    await waitFor(() => endpoint.open("/skip") === 1, { what: "the first delivery to be running" });
    const second = await fire("skipper");
    const skipped = await deliveryIn("skipper", second, "skipped");
    expect(skipped.attempts).toEqual([]);
    expect(skipped.lastError).toMatch(/previous delivery/);
    endpoint.release("/skip");
    await deliveryIn("skipper", first, "succeeded");
    expect(endpoint.received("/skip")).toHaveLength(1);
  });

  it("overlap allow_all: deliveries of the same job run concurrently", async () => {
    await create(hook("together", "/all"));
    const first = await fire("together");
    await waitFor(() => endpoint.open("/all") === 1, { what: "the first delivery to be running" });
    const second = await fire("together");
    await waitFor(() => endpoint.open("/all") === 2, { what: "both deliveries open at once" });
    endpoint.release("/all");
    await deliveryIn("together", first, "succeeded");
    await deliveryIn("together", second, "succeeded");
  });

  it("overlap buffer_one: one occurrence waits for the running delivery, a further one is skipped", async () => {
    await create(hook("buffered", "/buffer", { overlap: "buffer_one" }));
    const first = await fire("buffered");
    await waitFor(() => endpoint.open("/buffer") === 1, { what: "the first delivery to be running" });
    const second = await fire("buffered");
    await deliveryIn("buffered", second, "buffered");
    const third = await fire("buffered");
    await deliveryIn("buffered", third, "skipped");
    expect(endpoint.received("/buffer")).toHaveLength(1);
    endpoint.release("/buffer");
    await deliveryIn("buffered", first, "succeeded");
    await deliveryIn("buffered", second, "succeeded");
    expect(endpoint.received("/buffer")).toHaveLength(2);
  });

  it("never logs a header value, nor shows one in the job's definition", async () => {
    expect(replica.svc.output()).not.toContain("webhook-secret-0451");
    const read = await api.call("GET", "/v1/jobs/flaky");
    expect(read.body.definition.target.headers).toEqual({ authorization: "[redacted]" });
    expect(JSON.stringify((await api.call("GET", "/v1/jobs?limit=1000")).body)).not.toContain(
      "webhook-secret-0451",
    );
  });
});
