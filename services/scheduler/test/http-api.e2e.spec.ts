import { rebalanceCheck, serviceSource } from "@dbplane/contracts";
import { type HttpClient, httpClient, type ServiceReplica, waitFor } from "@dbplane/testkit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSchedulerWorld, type SchedulerWorld } from "./scheduler-world.ts";

let world: SchedulerWorld;
let replica: ServiceReplica;
let api: HttpClient;
beforeAll(async () => {
  world = await createSchedulerWorld();
  replica = await world.startReplica();
  api = httpClient(replica.base, world.token());
}, 60_000);
afterAll(() => world?.dispose());

const every = (id: string, subject: string, payload: unknown = { hello: id }) => ({
  id,
  schedule: { kind: "every", everyMs: 60_000 },
  target: { subject, payload },
});

describe("scheduler HTTP API", () => {
  it("upserts: 201 created, 200 unchanged, 200 updated; reads, lists by state, cancels", async () => {
    const subject = world.targetSubject("api");
    const created = await api.call("POST", "/v1/jobs", every("api-1", subject));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: "api-1", state: "active", version: 1 });
    expect(created.body.definition).toMatchObject({ misfire: "once", maxLatenessMs: 60_000 });
    expect((await api.call("POST", "/v1/jobs", every("api-1", subject))).status).toBe(200);
    const updated = await api.call("POST", "/v1/jobs", { ...every("api-1", subject), misfire: "skip" });
    expect(updated.status).toBe(200);
    expect(updated.body.version).toBe(2);
    await api.call("POST", "/v1/jobs", every("api-2", subject));

    expect((await api.call("GET", "/v1/jobs/api-1")).body.definition.misfire).toBe("skip");
    expect((await api.call("GET", "/v1/jobs/nope")).status).toBe(404);
    const page1 = await api.call("GET", "/v1/jobs?limit=1&state=active");
    expect(page1.body.items.map((j: { id: string }) => j.id)).toEqual(["api-1"]);
    const page2 = await api.call("GET", `/v1/jobs?limit=1&state=active&cursor=${page1.body.nextCursor}`);
    expect(page2.body.items.map((j: { id: string }) => j.id)).toEqual(["api-2"]);
    expect((await api.call("GET", "/v1/jobs?cursor=garbage")).body.errors[0].field).toBe("query.cursor");

    const cancelled = await api.call("DELETE", "/v1/jobs/api-2");
    expect(cancelled.body.state).toBe("cancelled");
    expect((await api.call("DELETE", "/v1/jobs/unknown")).status).toBe(404);
    expect((await api.call("GET", "/v1/jobs?state=cancelled")).body.items).toHaveLength(1);
  });

  it("pause, resume, and trigger fires one extra occurrence that shows in the runs", async () => {
    const subject = world.targetSubject("trigger");
    await api.call("POST", "/v1/jobs", every("trig", subject));
    expect((await api.call("POST", "/v1/jobs/trig/pause")).body.state).toBe("paused");
    expect((await api.call("POST", "/v1/jobs/trig/resume")).body.state).toBe("active");
    expect((await api.call("POST", "/v1/jobs/api-2/resume")).status).toBe(409);
    const triggered = await api.call("POST", "/v1/jobs/trig/trigger");
    expect(triggered.status).toBe(202);
    // Manual runs only: the job's own schedule fires at every minute boundary (epoch-anchored),
    // and a boundary can fall inside this test (it did in CI).
    const runs = await waitFor(
      async () => {
        const r = await api.call("GET", "/v1/jobs/trig/runs?outcome=fired");
        const manual = r.body.items.filter((run: { manual: boolean }) => run.manual);
        return manual.length === 1 && manual;
      },
      { what: "the triggered run to be recorded" },
    );
    expect(runs[0]).toMatchObject({ manual: true, outcome: "fired", messageId: triggered.body.messageId });
    const inStream = await world.readTarget();
    expect(inStream.filter((m) => m.msgId === triggered.body.messageId)).toHaveLength(1);
    expect((await api.call("POST", "/v1/jobs/nope/trigger")).status).toBe(404);
  });

  it("a batch: created and unchanged per job in order, its one-shot fires once; a bad job saves none and is named", async () => {
    const subject = world.targetSubject("batch");
    const at = new Date((await world.dbNow()).getTime() + 1_500).toISOString();
    const oneShot = { id: "batch-at", schedule: { kind: "at", at }, target: { subject, payload: {} } };
    const res = await api.call("POST", "/v1/jobs/batch", { jobs: [every("batch-1", subject), oneShot] });
    expect(res.status).toBe(200);
    expect(res.body.items).toEqual([
      { id: "batch-1", outcome: "created", state: "active", nextRunAt: expect.any(String), version: 1 },
      {
        id: "batch-at",
        outcome: "created",
        state: "active",
        nextRunAt: new Date(at).toISOString(),
        version: 1,
      },
    ]);
    expect((await api.call("GET", "/v1/jobs/batch-1")).body.owner).toEqual(expect.any(String));
    const again = await api.call("POST", "/v1/jobs/batch", { jobs: [every("batch-1", subject)] });
    expect(again.body.items[0].outcome).toBe("unchanged");

    const msgId = `batch-at:${new Date(at).toISOString()}`;
    const fired = await waitFor(
      async () => {
        const seen = (await world.readTarget()).filter((m) => m.msgId === msgId);
        return seen.length > 0 && seen;
      },
      { what: "the batch's one-shot to fire" },
    );
    expect(fired).toHaveLength(1);

    const bad = await api.call("POST", "/v1/jobs/batch", {
      jobs: [
        every("batch-2", subject),
        { ...every("batch-3", subject), target: { subject: "nobody.captures.this" } },
      ],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toEqual(["body.jobs.1.target.subject"]);
    expect((await api.call("GET", "/v1/jobs/batch-2")).status).toBe(404);
    const tooMany = Array.from({ length: 1_001 }, (_, i) => every(`batch-many-${i}`, subject));
    expect((await api.call("POST", "/v1/jobs/batch", { jobs: tooMany })).status).toBe(400);
    expect((await api.call("POST", "/v1/jobs/batch", { jobs: [] }, { auth: false })).status).toBe(401);
  });

  it.each([
    ["invalid cron", { schedule: { kind: "cron", expression: "61 * * * *" } }, "body.schedule.expression"],
    ["cron with 3 fields", { schedule: { kind: "cron", expression: "* * *" } }, "body.schedule.expression"],
    [
      "unknown zone",
      { schedule: { kind: "cron", expression: "0 2 * * *", timeZone: "Europe/Atlantis" } },
      "body.schedule.timeZone",
    ],
    [
      "`at` in the past beyond maxLatenessMs",
      { schedule: { kind: "at", at: "2020-01-01T00:00:00Z" } },
      "body.schedule.at",
    ],
    ["wildcard subject", { target: { subject: "orders.*" } }, "body.target.subject"],
    ["$JS subject", { target: { subject: "$JS.API.STREAM.NAMES" } }, "body.target.subject"],
    ["$KV subject", { target: { subject: "$KV.bucket.key" } }, "body.target.subject"],
    ["subject no stream captures", { target: { subject: "nobody.captures.this" } }, "body.target.subject"],
    ["id with ':'", { id: "a:b" }, "body.id"],
    [
      "reserved header",
      { target: { subject: "x.y", headers: { "Nats-Msg-Id": "forged" } } },
      "body.target.headers.Nats-Msg-Id",
    ],
  ])("400 naming the field: %s", async (_name, override, field) => {
    const res = await api.call("POST", "/v1/jobs", {
      ...every("bad", world.targetSubject("bad")),
      ...override,
    });
    expect(res.status).toBe(400);
    expect(res.type).toContain("application/problem+json");
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it("refuses a payload a dbplane command's contract rejects, naming the payload field", async () => {
    const res = await api.call("POST", "/v1/jobs", {
      id: "bad-backup",
      schedule: { kind: "cron", expression: "0 3 * * *" },
      target: {
        subject: `${world.nats.namespace}.dbplane.cmd.provisioner.run-backup`,
        payload: { wrong: 1 },
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors.some((e: { field: string }) => e.field.startsWith("body.target.payload"))).toBe(
      true,
    );
  });

  it("401 without a token on mutating routes; reads stay open", async () => {
    const res = await api.call("POST", "/v1/jobs", every("anon", world.targetSubject("x")), { auth: false });
    expect(res.status).toBe(401);
    expect((await api.call("DELETE", "/v1/jobs/api-1", undefined, { auth: false })).status).toBe(401);
    expect((await api.call("GET", "/v1/jobs", undefined, { auth: false })).status).toBe(200);
  });

  it("schedule-job and cancel-job commands work; a malformed schedule-job lands in the DLQ with the reason", async () => {
    const ns = world.nats.namespace;
    const js = jetstream(world.nats.nc);
    // schedule-job as the router (the service that schedules over NATS: it may have only targets
    // it publishes itself), cancel-job as the scheduler (its only sender).
    const send = async (name: string, id: string, data: unknown) => {
      const h = headers();
      const attrs: Record<string, string> = {
        "ce-id": id,
        "ce-type": `io.dbplane.scheduler.${name}.v1`,
        "ce-source": serviceSource(name === "schedule-job" ? "router" : "scheduler"),
        "ce-subject": "job",
        "ce-time": new Date().toISOString(),
        "ce-specversion": "1.0",
        "ce-datacontenttype": "application/json",
      };
      for (const [k, v] of Object.entries(attrs)) h.set(k, v);
      await js.publish(`${ns}.dbplane.cmd.scheduler.${name}`, JSON.stringify(data), {
        headers: h,
        msgID: id,
      });
    };
    await send("schedule-job", "c1", every("by-command", rebalanceCheck.subject, {}));
    await waitFor(async () => (await api.call("GET", "/v1/jobs/by-command")).status === 200, {
      what: "job from command",
    });
    await send("cancel-job", "c2", { id: "by-command" });
    await waitFor(async () => (await api.call("GET", "/v1/jobs/by-command")).body.state === "cancelled", {
      what: "cancel by command",
    });

    // Invalid per contract (no schedule) and invalid per the scheduler (cron value out of range).
    await send("schedule-job", "bad-1", { id: "broken", target: { subject: "x.y" } });
    await send("schedule-job", "bad-2", {
      ...every("broken-2", rebalanceCheck.subject, {}),
      schedule: { kind: "cron", expression: "0 25 * * *" },
    });
    const jsm = await jetstreamManager(world.nats.nc);
    const dlq = `${ns.toUpperCase()}_DBPLANE_DLQ`;
    await waitFor(async () => (await jsm.streams.info(dlq)).state.messages === 2, {
      what: "two dead letters",
    });
    const reasons: string[] = [];
    for (const seq of [1, 2]) {
      const m = await jsm.streams.getMessage(dlq, { seq });
      reasons.push(
        JSON.stringify(Object.fromEntries([...(m?.header.keys() ?? [])].map((k) => [k, m?.header.get(k)]))),
      );
    }
    expect(reasons.join("\n")).toContain("schedule");
    expect(reasons.join("\n")).toContain("schedule.expression");
    expect((await api.call("GET", "/v1/jobs/broken-2")).status).toBe(404);
  });

  it("serves metrics including the scheduler's, and docs", async () => {
    const text = await (await fetch(`${replica.base}/metrics`)).text();
    for (const name of [
      "dbplane_scheduler_firing_lag_seconds",
      "dbplane_scheduler_due_backlog",
      "dbplane_scheduler_claims_total",
      "dbplane_scheduler_fired_total",
      "dbplane_scheduler_missed_total",
      "dbplane_scheduler_publish_failures_total",
      'dbplane_scheduler_jobs{state="active"}',
    ]) {
      expect(text).toContain(name);
    }
    expect((await fetch(`${replica.base}/docs/json`)).status).toBe(200);
  });
});
