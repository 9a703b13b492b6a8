import { type HttpClient, httpClient, type ServiceReplica, waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJobDefinition } from "../src/domain/job-validation.ts";
import { createSchedulerWorld, type SchedulerWorld } from "./scheduler-world.ts";

// Security (issue 16, items 2 and 6): a scheduler as in a cluster — GETs need a token — where a
// job that publishes dbplane commands or events needs `admin`, when saved and when it fires.
let world: SchedulerWorld;
let replica: ServiceReplica;
/** `admin`, `jobs:write` (subject carol), `read`. */
let admin: HttpClient;
let writer: HttpClient;
let reader: HttpClient;
beforeAll(async () => {
  world = await createSchedulerWorld();
  replica = await world.startReplica({
    env: { DBPLANE_ANONYMOUS_READ: "false", DBPLANE_SCHEDULER_MAX_JOBS_PER_OWNER: "2" },
  });
  admin = httpClient(replica.base, world.token({ sub: "ops" }));
  writer = httpClient(replica.base, world.token({ sub: "carol", scopes: ["jobs:write", "read"] }));
  reader = httpClient(replica.base, world.token({ sub: "dan", scopes: ["read"] }));
}, 60_000);
afterAll(() => world?.dispose());

const every = (id: string, subject: string, everyMs = 60_000) => ({
  id,
  schedule: { kind: "every", everyMs },
  target: { subject, payload: null },
});
/** A subject in dbplane's own event space of this test's namespace. */
const platformEvent = (name: string) => `${world.nats.namespace}.dbplane.evt.attacker.${name}`;
const deleteDatabase = () => ({
  id: "gc",
  schedule: { kind: "every", everyMs: 60_000 },
  target: {
    subject: `${world.nats.namespace}.dbplane.cmd.provisioner.delete-database`,
    payload: { name: "shop", keepVolumes: false },
  },
});

describe("scheduler job scopes", () => {
  it("reads need the read scope", async () => {
    expect((await admin.call("GET", "/v1/jobs", undefined, { auth: false })).status).toBe(401);
    expect((await reader.call("GET", "/v1/jobs")).status).toBe(200);
    const writeOnly = httpClient(replica.base, world.token({ scopes: ["jobs:write"] }));
    const refused = await writeOnly.call("GET", "/v1/jobs");
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: "FORBIDDEN", scope: "read" });
    expect((await reader.call("POST", "/v1/jobs", every("r", world.targetSubject("r")))).status).toBe(403);
  });

  it("a dbplane command target needs admin; the owner and its scopes are recorded", async () => {
    const refused = await writer.call("POST", "/v1/jobs", deleteDatabase());
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: "FORBIDDEN", scope: "admin" });
    expect(refused.body.detail).toContain("dbplane command or event");
    expect((await reader.call("GET", "/v1/jobs/gc")).status).toBe(404);

    const created = await admin.call("POST", "/v1/jobs", deleteDatabase());
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ owner: "ops", ownerScopes: ["admin"] });
    // Nor may jobs:write fire, pause, cancel or re-point the admin's job.
    for (const action of ["trigger", "pause"]) {
      expect((await writer.call("POST", `/v1/jobs/gc/${action}`)).status).toBe(403);
    }
    expect((await writer.call("DELETE", "/v1/jobs/gc")).status).toBe(403);
    const repointed = { ...every("gc", world.targetSubject("harmless")) };
    expect((await writer.call("POST", "/v1/jobs", repointed)).status).toBe(403);
    expect((await reader.call("GET", "/v1/jobs/gc")).body.state).toBe("active");
    expect((await admin.call("DELETE", "/v1/jobs/gc")).status).toBe(200);
  });

  it("checks the owner's recorded scopes again at firing time", async () => {
    // Written to the table without an admin owner (as a job saved before owners were recorded).
    await world.store.upsert(parseJobDefinition(every("forged", platformEvent("forged"), 1_000)));
    await world.store.upsert(parseJobDefinition(every("blessed", platformEvent("blessed"), 1_000)), {
      owner: { id: "ops", scopes: ["admin"] },
    });
    await waitFor(async () => (await reader.call("GET", "/v1/jobs/forged/runs")).body.items.length > 0, {
      what: "a run of the forged job",
    });
    const [run] = (await reader.call("GET", "/v1/jobs/forged/runs")).body.items;
    expect(run).toMatchObject({ outcome: "failed" });
    expect(run.error).toContain('needs the scope "admin"');
    await waitFor(async () => (await world.events("dbplane.evt.attacker.blessed")).length > 0, {
      what: "the admin-owned job's message",
    });
    expect(await world.events("dbplane.evt.attacker.forged")).toEqual([]);
    await world.store.cancel("forged");
    await world.store.cancel("blessed");
  });

  it("caps the live jobs of an owner short of admin", async () => {
    const subject = world.targetSubject("cap");
    expect((await writer.call("POST", "/v1/jobs", every("cap-1", subject))).status).toBe(201);
    expect((await writer.call("POST", "/v1/jobs", every("cap-2", subject))).status).toBe(201);
    const third = await writer.call("POST", "/v1/jobs", every("cap-3", subject));
    expect(third.status).toBe(409);
    expect(third.body.detail).toContain('"carol" already has 2 active or paused jobs');
    // Replacing one of its own jobs is no new job; cancelling one makes room.
    expect(
      (await writer.call("POST", "/v1/jobs", { ...every("cap-1", subject), misfire: "skip" })).status,
    ).toBe(200);
    expect((await writer.call("DELETE", "/v1/jobs/cap-2")).status).toBe(200);
    expect((await writer.call("POST", "/v1/jobs", every("cap-3", subject))).status).toBe(201);
    // admin may do anything anyway: no cap.
    for (const id of ["cap-a", "cap-b", "cap-c"]) {
      expect((await admin.call("POST", "/v1/jobs", every(id, subject))).status).toBe(201);
    }
  });

  it("caps concurrent creates too: of many at once, only what the cap leaves room for is created", async () => {
    const subject = world.targetSubject("race");
    const racer = httpClient(replica.base, world.token({ sub: "erin", scopes: ["jobs:write", "read"] }));
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => racer.call("POST", "/v1/jobs", every(`race-${i}`, subject))),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 201, 409, 409, 409, 409, 409, 409]);
  });
});
