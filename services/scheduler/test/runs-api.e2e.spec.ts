import { type HttpClient, httpClient } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSchedulerWorld, type SchedulerWorld } from "./scheduler-world.ts";

let world: SchedulerWorld;
let api: HttpClient;
let base: string;
beforeAll(async () => {
  world = await createSchedulerWorld();
  const replica = await world.startReplica();
  base = replica.base;
  api = httpClient(replica.base, world.token());
}, 60_000);
afterAll(() => world?.dispose());

const RUNS = 250;
interface Run {
  jobId: string;
  scheduledAt: string;
  outcome: string;
  recordedAt: string;
}
const key = (r: { jobId: string; scheduledAt: string }) => `${r.jobId}:${r.scheduledAt}`;

/** Every page of `query` with `limit`, following nextCursor; `between` runs after the first page. */
async function walk(query: string, limit: number, between?: () => Promise<void>): Promise<Run[]> {
  const items: Run[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 1_000; page++) {
    const url = `/v1/runs?limit=${limit}${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const res = await api.call("GET", url);
    expect(res.status).toBe(200);
    expect(res.body.items.length).toBeLessThanOrEqual(limit);
    items.push(...res.body.items);
    cursor = res.body.nextCursor;
    if (cursor === null) return items;
    if (page === 0) await between?.();
  }
  throw new Error("too many pages");
}

describe("GET /v1/runs", () => {
  // Recorded times shared by ~6 runs each and 333 µs apart (below a millisecond: a cursor
  // that kept only a JS Date would skip or repeat runs).
  const runs = () => `"${world.db.name}".runs`;
  beforeAll(async () => {
    await world.db.pool.query(
      `INSERT INTO ${runs()} (job_id, scheduled_at, outcome, fired_at, lateness_ms, recorded_at)
       SELECT (ARRAY['a', 'b', 'c'])[i % 3 + 1], timestamptz '2026-06-01Z' + i * interval '1 second',
              (ARRAY['fired', 'fired', 'missed', 'failed'])[i % 4 + 1], now(), 0,
              timestamptz '2026-06-02Z' + (i % 40) * interval '333 microseconds'
       FROM generate_series(1, $1) AS i`,
      [RUNS],
    );
  });

  it("pages through every job's runs in a stable order: newest recorded first, none repeated or skipped", async () => {
    const expected = await world.db.pool.query<{ job_id: string; scheduled_at: Date }>(
      `SELECT job_id, scheduled_at FROM ${runs()} ORDER BY recorded_at DESC, job_id DESC, scheduled_at DESC`,
    );
    const items = await walk("", 7);
    expect(items.map(key)).toEqual(
      expected.rows.map((r) => key({ jobId: r.job_id, scheduledAt: r.scheduled_at.toISOString() })),
    );
    expect(new Set(items.map(key)).size).toBe(RUNS);
  });

  it("runs recorded while paging (newer) do not shift the pages after the cursor", async () => {
    const items = await walk("&job=c", 10, async () => {
      await world.db.pool.query(
        `INSERT INTO ${runs()} (job_id, scheduled_at, outcome, recorded_at)
         SELECT 'c', timestamptz '2027-01-01Z' + i * interval '1 second', 'fired', timestamptz '2026-06-03Z'
         FROM generate_series(1, 20) AS i`,
      );
    });
    const scheduled = items.map((r) => r.scheduledAt);
    expect(new Set(scheduled).size).toBe(scheduled.length);
    // The first page was read before the 20 newer runs existed; the rest never include them.
    expect(items.filter((r) => r.scheduledAt.startsWith("2027-"))).toEqual([]);
    expect(items).toHaveLength(Math.floor((RUNS + 1) / 3));
    await world.db.pool.query(`DELETE FROM ${runs()} WHERE scheduled_at >= '2027-01-01Z'`);
  });

  it("filters by job, outcome and time, combined", async () => {
    const since = "2026-06-02T00:00:00.006Z";
    const items = await walk(`&job=b&state=missed&since=${since}`, 5);
    const count = await world.db.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${runs()} WHERE job_id = 'b' AND outcome = 'missed' AND recorded_at >= $1`,
      [since],
    );
    expect(items.length).toBe(Number(count.rows[0]!.n));
    expect(items.length).toBeGreaterThan(0);
    for (const r of items) {
      expect(r).toMatchObject({ jobId: "b", outcome: "missed" });
      expect(Date.parse(r.recordedAt)).toBeGreaterThanOrEqual(Date.parse(since));
    }
    expect((await api.call("GET", "/v1/runs?job=nobody")).body).toEqual({ items: [], nextCursor: null });
  });

  it.each([
    ["state=done", "query.state"],
    ["since=yesterday", "query.since"],
    ["since=2026-06-02T00:00:00", "query.since"],
    ["limit=0", "query.limit"],
    ["limit=1001", "query.limit"],
    ["cursor=garbage", "query.cursor"],
    [`cursor=${Buffer.from(JSON.stringify({ k: '["1","a"]' })).toString("base64url")}`, "query.cursor"],
  ])("400 naming the field for %s", async (query, field) => {
    const res = await api.call("GET", `/v1/runs?${query}`);
    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe(field);
  });

  it("is in the OpenAPI document with its query parameters", async () => {
    const doc = (await (await fetch(`${base}/docs/json`)).json()) as {
      paths: Record<string, { get?: { parameters: { name: string }[] } }>;
    };
    const op = doc.paths["/v1/runs"]?.get;
    expect(op).toBeDefined();
    expect(op!.parameters.map((p: { name: string }) => p.name).sort()).toEqual(
      ["cursor", "job", "limit", "since", "state"].sort(),
    );
  });
});
