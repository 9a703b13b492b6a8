import { type HttpClient, httpClient, type ServiceReplica, waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSchedulerWorld, type SchedulerWorld } from "./scheduler-world.ts";
import { startWebhookEndpoint, type WebhookEndpoint } from "./webhook-endpoint.ts";

// The global retention keeps one run per job; rounds every second.
const env = {
  DBPLANE_SCHEDULER_WEBHOOK_ALLOW: "127.0.0.1",
  DBPLANE_SCHEDULER_RUN_RETENTION: "count=1",
  DBPLANE_SCHEDULER_RUN_PRUNE_INTERVAL_MS: "1000",
};

let world: SchedulerWorld;
let replica: ServiceReplica;
let api: HttpClient;
let endpoint: WebhookEndpoint;
beforeAll(async () => {
  endpoint = await startWebhookEndpoint({ "/first-held": (_req, nth) => (nth === 1 ? "hold" : 200) });
  world = await createSchedulerWorld();
  replica = await world.startReplica({ env });
  api = httpClient(replica.base, world.token());
}, 60_000);
afterAll(async () => {
  await endpoint?.close();
  await world?.dispose();
});

/** A job that fires only when triggered (its own occurrence is decades away). */
const later = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  schedule: { kind: "at", at: "2099-01-01T00:00:00Z" },
  target: { subject: world.targetSubject(id) },
  ...extra,
});

async function create(job: unknown): Promise<void> {
  const res = await api.call("POST", "/v1/jobs", job);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

/** `n` fired runs of `jobId` two days back, a second apart, recorded `agoMs` ago. */
async function history(jobId: string, n: number, agoMs = 0): Promise<void> {
  await world.db.pool.query(
    `INSERT INTO "${world.db.name}".runs (job_id, scheduled_at, outcome, fired_at, lateness_ms, recorded_at)
     SELECT $1, now() - interval '2 days' - $3 * interval '1 millisecond' + i * interval '1 second', 'fired', now(), 0,
            now() - $3 * interval '1 millisecond'
     FROM generate_series(1, $2) AS i`,
    [jobId, n, agoMs],
  );
}

async function runCount(jobId: string): Promise<number> {
  const { rows } = await world.db.pool.query(
    `SELECT count(*)::int AS n FROM "${world.db.name}".runs WHERE job_id = $1`,
    [jobId],
  );
  return rows[0].n;
}

describe("a job's own run retention", () => {
  it("is refused out of range with a 400 naming the field", async () => {
    for (const [retention, field] of [
      [{ count: 0 }, "body.retention.count"],
      [{ ageMs: 60_000 }, "body.retention.ageMs"],
      [{ count: 5, days: 3 }, "body.retention"],
    ] as const) {
      const res = await api.call("POST", "/v1/jobs", later("bad-retention", { retention }));
      expect(res.status, JSON.stringify(retention)).toBe(400);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    }
  });

  it("replaces the global one for that job: a larger count, an age without a count; others keep the global", async () => {
    await create(later("own-count", { retention: { count: 10 } }));
    await create(later("own-age", { retention: { ageMs: 600_000 } }));
    await create(later("global"));
    const shown = await api.call("GET", "/v1/jobs/own-count");
    expect(shown.body.definition.retention).toEqual({ count: 10 });

    await history("own-count", 20);
    const newest = (
      await world.db.pool.query<{ at: Date }>(
        `SELECT scheduled_at AS at FROM "${world.db.name}".runs WHERE job_id = 'own-count' ORDER BY scheduled_at DESC LIMIT 10`,
      )
    ).rows.map((r) => r.at.toISOString());
    await history("own-age", 20, 3_600_000);
    await history("own-age", 5);
    await history("global", 20);
    await waitFor(
      async () =>
        (await runCount("own-count")) === 10 &&
        (await runCount("own-age")) === 5 &&
        (await runCount("global")) === 1,
      { what: "own-count at 10 runs, own-age at its 5 recent ones, global at 1", timeoutMs: 20_000 },
    );
    // The ten kept are the newest.
    const kept = (await api.call("GET", "/v1/jobs/own-count/runs?limit=100")).body.items.map(
      (r: { scheduledAt: string }) => r.scheduledAt,
    );
    expect(kept.sort()).toEqual(newest.sort());
  });
});

describe("a run whose webhook delivery is in flight", () => {
  it("is not pruned until the delivery ended and was announced; the delivery completes", async () => {
    await create({
      id: "in-flight",
      schedule: { kind: "at", at: "2099-01-01T00:00:00Z" },
      target: { kind: "http", url: endpoint.url("/first-held") },
    });
    const fire = async () =>
      (await api.call("POST", "/v1/jobs/in-flight/trigger")).body.scheduledAt as string;
    const delivery = async (at: string) =>
      api.call("GET", `/v1/jobs/in-flight/runs/${encodeURIComponent(at)}/deliveries`);
    const first = await fire();
    await waitFor(() => endpoint.open("/first-held") === 1, { what: "the first delivery to be in flight" });
    const second = await fire();
    await waitFor(async () => (await delivery(second)).body.state === "succeeded", {
      what: "the second delivery to succeed",
    });
    const third = await fire();
    await waitFor(async () => (await delivery(third)).body.state === "succeeded", {
      what: "the third delivery to succeed",
    });
    // count=1 keeps the third; the second goes, the first stays while its delivery runs.
    await waitFor(async () => (await delivery(second)).status === 404, {
      what: "the second run to be pruned",
      timeoutMs: 20_000,
    });
    const held = await delivery(first);
    expect(held.status).toBe(200);
    expect(held.body).toMatchObject({ state: "running", attemptCount: 1 });

    endpoint.release("/first-held");
    await waitFor(async () => (await delivery(first)).body.state === "succeeded", {
      what: "the first delivery to succeed after all",
    });
    await waitFor(async () => (await runCount("in-flight")) === 1, {
      what: "the first run to be pruned once its delivery ended",
      timeoutMs: 20_000,
    });
    expect(endpoint.received("/first-held")).toHaveLength(3);
  });
});
