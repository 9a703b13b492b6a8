import { createHmac } from "node:crypto";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { afterEach, describe, expect, it } from "vitest";
import { httpClient, type ServiceWorld, serviceWorld } from "../src/index.ts";

const entry = join(import.meta.dirname, "fixtures/echo-service.ts");
const SECRET = "service-world-test-secret-0123456789";
let world: ServiceWorld<{ role: string }>;

afterEach(() => world?.dispose());

const ask = async (base: string) =>
  (await (await fetch(`${base}/health/ready`)).json()) as Record<string, unknown>;

describe("serviceWorld", () => {
  it("starts replicas on their own ports with the world's, the service's and the replica's env", async () => {
    world = await serviceWorld({
      entry,
      name: "echo",
      jwtSecret: SECRET,
      env: ({ name }) => ({ ROLE: `worker ${name}` }),
      extend: async (r) => ({ role: String((await ask(r.base)).role) }),
    });
    const [a, b] = await world.startReplicas(2);
    const c = await world.startReplica({ name: "odd", env: { ROLE: "odd" } });
    expect(new Set([a!.port, b!.port, c.port]).size).toBe(3);
    expect(await ask(a!.base)).toMatchObject({ namespace: world.nats.namespace, secret: SECRET });
    expect([a!.role, b!.role].sort()).toEqual(["worker echo-0", "worker echo-1"]);
    expect(c).toMatchObject({ name: "odd-2", role: "odd" });
    expect(world.replicas).toHaveLength(3);
  });

  it("stops a replica gracefully or kills it, and restarts it like it was", async () => {
    world = await serviceWorld({ entry, name: "echo", extend: () => ({ role: "" }) });
    const first = await world.startReplica({ env: { ROLE: "kept" } });
    expect(await first.stop("SIGTERM")).toBe(0);
    const second = await world.restartReplica(first, "SIGKILL");
    expect(await ask(second.base)).toMatchObject({ role: "kept" });
    expect(await second.stop("SIGKILL")).toBe("SIGKILL");
    expect(await second.stop()).toBe("SIGKILL");
  });

  it("signs HS256 tokens with the service's secret", async () => {
    world = await serviceWorld({ entry, name: "echo", jwtSecret: SECRET });
    const [header, payload, signature] = world.token({ claims: { scope: "admin" } }).split(".");
    expect(createHmac("sha256", SECRET).update(`${header}.${payload}`).digest("base64url")).toBe(signature);
    const claims = JSON.parse(Buffer.from(payload!, "base64url").toString());
    expect(claims).toMatchObject({ sub: "echo-test", scope: "admin" });
    expect(claims.exp - claims.iat).toBe(3600);
    const plain = await serviceWorld({ entry, name: "plain" });
    expect(() => plain.token()).toThrow(/no jwtSecret/);
    await plain.dispose();
  });

  it("talks JSON to a replica with the bearer token and keeps every answer", async () => {
    world = await serviceWorld({ entry, name: "echo", jwtSecret: SECRET });
    const api = httpClient((await world.startReplica()).base, "tok");
    const res = await api.call("POST", "/things", { a: 1 });
    expect(res).toMatchObject({ status: 200, type: "application/json", body: { path: "/things" } });
    expect(res.body.authorization).toBe("Bearer tok");
    expect((await api.call("GET", "/open", undefined, { auth: false })).body.authorization).toBeUndefined();
    expect(api.bodies).toHaveLength(2);
  });

  it("sums a metric's samples over the label sets that match", async () => {
    world = await serviceWorld({ entry, name: "echo" });
    const replica = await world.startReplica();
    expect(await replica.metric("jobs_total")).toBe(5);
    expect(await replica.metric("jobs_total", { kind: "a" })).toBe(2);
    expect(await replica.metric("jobs_total", { kind: "c" })).toBe(0);
    expect(await replica.metric("absent_total")).toBe(0);
  });

  it("reads the namespace's event stream, filtered by subject", async () => {
    world = await serviceWorld({ entry, name: "echo" });
    const { nc, namespace } = world.nats;
    expect(await world.events()).toEqual([]);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: `${namespace.toUpperCase()}_DBPLANE_EVT`,
      subjects: [`${namespace}.dbplane.evt.>`],
    });
    for (const [i, area] of ["a", "b", "a"].entries()) {
      const h = headers();
      h.set("ce-type", `io.dbplane.${area}.happened.v1`);
      h.set("ce-id", `id-${i}`);
      h.set("ce-subject", `thing-${i}`);
      await jsm
        .jetstream()
        .publish(`${namespace}.dbplane.evt.${area}.happened`, JSON.stringify({ i }), { headers: h });
    }
    expect((await world.events()).map((e) => e.id)).toEqual(["id-0", "id-1", "id-2"]);
    const onlyA = await world.events("dbplane.evt.a.");
    expect(onlyA.map((e) => [e.subject, e.data.i])).toEqual([
      ["thing-0", 0],
      ["thing-2", 2],
    ]);
    expect(onlyA[0]!.raw).toContain("ce-type: io.dbplane.a.happened.v1");
  });

  it("runs every cleanup, last first, and reports the ones that failed", async () => {
    const doomed = await serviceWorld({ entry, name: "echo" });
    const order: string[] = [];
    doomed.defer(() => order.push("first"));
    doomed.defer(() => {
      throw new Error("broken cleanup");
    });
    doomed.defer(() => order.push("third"));
    await expect(doomed.dispose()).rejects.toThrow(AggregateError);
    expect(order).toEqual(["third", "first"]);
  });
});
