// Security suite (issue 16, item 6; review finding 8): job targets are published inside the
// installation's namespace and cannot name another's; a service scheduling over NATS may have
// only targets it may publish itself; the owner's right to the target is checked again before
// every publish.
import {
  type MessageDefinition,
  rebalanceCheck,
  scheduleJob,
  serviceSource,
  toBinaryHeaders,
} from "@dbplane/contracts";
import { type HttpClient, httpClient, uniqueName, waitFor } from "@dbplane/testkit";
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers, nanos } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJobDefinition } from "../src/domain/job-validation.ts";
import { createSchedulerWorld, type SchedulerWorld } from "./scheduler-world.ts";

let world: SchedulerWorld;
let jsm: JetStreamManager;
let admin: HttpClient;
let ns: string;
/** Another installation on the same NATS: its namespace and a stream capturing its dbplane subjects. */
let other: string;
let otherStream: string;
beforeAll(async () => {
  world = await createSchedulerWorld();
  const replica = await world.startReplica();
  admin = httpClient(replica.base, world.token({ sub: "ops" }));
  ns = world.nats.namespace;
  jsm = await jetstreamManager(world.nats.nc);
  other = uniqueName("other");
  otherStream = `${other.toUpperCase()}_DBPLANE`;
  await jsm.streams.add({
    name: otherStream,
    subjects: [`${other}.dbplane.>`],
    duplicate_window: nanos(120_000),
  });
  world.defer(() => jsm.streams.delete(otherStream));
}, 60_000);
afterAll(() => world?.dispose());

/** The newest message on a wire subject in this namespace's DBPLANE_CMD, or null. */
async function lastCommand(wireSubject: string) {
  try {
    return await jsm.streams.getMessage(`${ns.toUpperCase()}_DBPLANE_CMD`, { last_by_subj: wireSubject });
  } catch {
    return null;
  }
}

/** Publishes `data` as the command `def`, sent by `service`, into this namespace. */
async function sendAs(service: "router" | "scheduler", def: MessageDefinition, id: string, data: unknown) {
  const h = headers();
  const attrs = toBinaryHeaders({
    id,
    type: def.type,
    source: serviceSource(service),
    subject: "job",
    time: new Date().toISOString(),
    specversion: "1.0",
    datacontenttype: "application/json",
  });
  for (const [k, v] of Object.entries(attrs)) h.set(k, v);
  await jetstream(world.nats.nc).publish(`${ns}.${def.subject}`, JSON.stringify(data), {
    headers: h,
    msgID: id,
  });
}

/** The dead letter of the command whose ce-id is `id`, once it is there. */
async function deadLetter(id: string): Promise<Record<string, string>> {
  const dlq = `${ns.toUpperCase()}_DBPLANE_DLQ`;
  let found: Record<string, string> | undefined;
  await waitFor(
    async () => {
      const info = await jsm.streams.info(dlq);
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
        const m = await jsm.streams.getMessage(dlq, { seq }).catch(() => null);
        if (m?.header.get("ce-id") !== id) continue;
        found = Object.fromEntries([...m.header.keys()].map((k) => [k, m.header.get(k)]));
        return true;
      }
      return false;
    },
    { what: `the dead letter of ${id}` },
  );
  return found!;
}

/** The first recorded run of a job, once there is one. */
async function firstRun(id: string) {
  await waitFor(async () => (await admin.call("GET", `/v1/jobs/${id}/runs`)).body.items?.length > 0, {
    what: `a run of ${id}`,
  });
  return (await admin.call("GET", `/v1/jobs/${id}/runs`)).body.items[0];
}

/** A job due every second from now. */
const everySecond = (id: string, subject: string, payload: unknown) => ({
  id,
  schedule: { kind: "every", everyMs: 1_000 },
  target: { subject, payload },
});
const later = () => new Date(Date.now() + 3_600_000).toISOString();
/** A job that fires only when triggered (its schedule starts in an hour). */
const onTrigger = (id: string, subject: string, payload: unknown) => ({
  id,
  schedule: { kind: "every", everyMs: 60_000 },
  startAt: later(),
  target: { subject, payload },
});

describe("job target subjects are namespaced", () => {
  it("a logical dbplane subject is published inside this installation's namespace", async () => {
    const created = await admin.call(
      "POST",
      "/v1/jobs",
      onTrigger("backup", "dbplane.cmd.provisioner.run-backup", { name: "shop", backupId: "nightly" }),
    );
    expect(created.status).toBe(201);
    expect((await admin.call("POST", "/v1/jobs/backup/trigger")).status).toBe(202);
    expect(await firstRun("backup")).toMatchObject({ outcome: "fired" });
    const m = await lastCommand(`${ns}.dbplane.cmd.provisioner.run-backup`);
    expect(m?.header.get("dbplane-job-id")).toBe("backup");
    expect(m?.header.get("ce-type")).toBe("io.dbplane.provisioner.run-backup.v1");
  });

  it("refuses, with a 400 naming target.subject, a subject in another installation's namespace", async () => {
    const refused = await admin.call(
      "POST",
      "/v1/jobs",
      onTrigger("escape", `${other}.dbplane.cmd.provisioner.delete-database`, {
        name: "shop",
        keepVolumes: false,
      }),
    );
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain("target.subject");
    expect(refused.body.detail).toContain("another installation");
    expect((await admin.call("GET", "/v1/jobs/escape")).status).toBe(404);
  });

  it("does not fire a stored job whose subject names another installation", async () => {
    // As an admin could save it before subjects were namespaced.
    await world.store.upsert(
      parseJobDefinition(
        everySecond("stored-escape", `${other}.dbplane.evt.provisioner.database.deleted`, { name: "shop" }),
      ),
      { owner: { id: "ops", scopes: ["admin"] } },
    );
    const run = await firstRun("stored-escape");
    expect(run).toMatchObject({ outcome: "failed" });
    expect(run.error).toContain("another installation");
    await world.store.cancel("stored-escape");
    expect((await jsm.streams.info(otherStream)).state.messages).toBe(0);
  });
});

describe("jobs scheduled over NATS are owned by the sending service, not admin", () => {
  it("the router may schedule its own rebalance-check, owned by it with no scope", async () => {
    await sendAs("router", scheduleJob, "rb-1", onTrigger("rebalance", rebalanceCheck.subject, {}));
    await waitFor(async () => (await admin.call("GET", "/v1/jobs/rebalance")).status === 200, {
      what: "the router's job",
    });
    const job = (await admin.call("GET", "/v1/jobs/rebalance")).body;
    expect(job).toMatchObject({ owner: "service:dbplane/router", ownerScopes: [] });
    expect((await admin.call("POST", "/v1/jobs/rebalance/trigger")).status).toBe(202);
    expect(await firstRun("rebalance")).toMatchObject({ outcome: "fired" });
    expect(await lastCommand(`${ns}.dbplane.cmd.router.rebalance-check`)).not.toBeNull();
  });

  it("a schedule-job with the full, namespaced subject (as routers before this one sent it) still fires", async () => {
    const id = "dbplane-router-rebalance-check";
    await sendAs("router", scheduleJob, "rb-as-sent", {
      id,
      schedule: { kind: "every", everyMs: 1_000 },
      target: { subject: `${ns}.${rebalanceCheck.subject}`, payload: {} },
      misfire: "skip",
    });
    expect(await firstRun(id)).toMatchObject({ outcome: "fired" });
    const m = await lastCommand(`${ns}.dbplane.cmd.router.rebalance-check`);
    expect(m?.header.get("dbplane-job-id")).toBe(id);
    expect(m?.header.get("ce-source")).toBe(serviceSource("scheduler"));
    await world.store.cancel(id);
  });

  it("dead-letters a router's schedule-job targeting the provisioner's delete-database", async () => {
    const gc = onTrigger("router-gc", "dbplane.cmd.provisioner.delete-database", {
      name: "shop",
      keepVolumes: false,
    });
    await sendAs("router", scheduleJob, "rb-2", gc);
    const letter = await deadLetter("rb-2");
    expect(letter["dbplane-dlq-reason"]).toBe("permanent");
    expect(letter["dbplane-dlq-error"]).toContain("router service may not publish");
    expect((await admin.call("GET", "/v1/jobs/router-gc")).status).toBe(404);
  });

  it("checks a service owner again at firing time (a job recorded with admin by the old rule)", async () => {
    await world.store.upsert(
      parseJobDefinition(
        everySecond("legacy-gc", "dbplane.cmd.provisioner.delete-database", {
          name: "shop",
          keepVolumes: false,
        }),
      ),
      { owner: { id: "service:dbplane/router", scopes: ["admin"] } },
    );
    const run = await firstRun("legacy-gc");
    expect(run).toMatchObject({ outcome: "failed" });
    expect(run.error).toContain("router service may not publish");
    await world.store.cancel("legacy-gc");
    expect(await lastCommand(`${ns}.dbplane.cmd.provisioner.delete-database`)).toBeNull();
  });

  it("a token cannot pass for a service owner", async () => {
    const impostor = httpClient(world.replicas[0]!.base, world.token({ sub: "service:dbplane/router" }));
    const refused = await impostor.call(
      "POST",
      "/v1/jobs",
      onTrigger("impostor", world.targetSubject("x"), null),
    );
    expect(refused.status).toBe(403);
    expect(refused.body.detail).toContain('"service:"');
  });
});

describe("the owner's recorded scopes are checked before each publish", () => {
  it("an admin's job whose owner no longer holds admin is not published, with the reason", async () => {
    const subject = "dbplane.evt.attacker.demoted";
    expect((await admin.call("POST", "/v1/jobs", onTrigger("demoted", subject, null))).status).toBe(201);
    await world.db.pool.query(
      `UPDATE ${world.db.name}.jobs SET owner_scopes = '{jobs:write}' WHERE id = 'demoted'`,
    );
    expect((await admin.call("POST", "/v1/jobs/demoted/trigger")).status).toBe(202);
    const run = await firstRun("demoted");
    expect(run).toMatchObject({ outcome: "failed" });
    expect(run.error).toContain('needs the scope "admin"');
    expect(await world.events(subject)).toEqual([]);
  });
});
