// Issue 16, item 4 (review finding 2): endpoints and password references are the provisioner's.
// A caller's shard map may change ranges only, and an announcement whose passwordRef points at
// the router's own environment (or a Secret the provisioner never issued) is refused — the router
// never reads it, so it can never send it as a "password" to the server the attacker names.

import { createServer, type Server } from "node:net";
import { databaseReady } from "@dbplane/contracts";
import { uniqueName, waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, createRouterWorld, type RouterWorld, waitForMap } from "../router-world.ts";

let world: RouterWorld;
let base: string;
/** Stands in for the attacker's server: it counts who connects to it. */
let fake: Server;
let fakePort: number;
let fakeConnections = 0;
const call = (method: string, path: string, body?: unknown) => api(base, world.token(), method, path, body);

beforeAll(async () => {
  world = await createRouterWorld(2);
  base = (await world.startReplica()).base;
  fake = createServer((socket) => {
    fakeConnections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve));
  fakePort = (fake.address() as { port: number }).port;
  await world.announce("shop");
  await waitForMap(base, world.token(), "shop");
});
afterAll(async () => {
  await world?.dispose();
  await new Promise((resolve) => fake?.close(resolve));
});

/** Errors of the dead letters about `database`, as the router's consumer writes them to the DLQ. */
function deadLetters(database: string): { errors: string[]; stop(): void } {
  const errors: string[] = [];
  const sub = world.nats.nc.subscribe(`${world.nats.namespace}.dbplane.dlq.>`, {
    callback: (_err, m) => {
      if (m.headers?.get("ce-subject") === database) errors.push(m.headers.get("dbplane-dlq-error"));
    },
  });
  return { errors, stop: () => sub.unsubscribe() };
}

describe("password references and endpoints are not the caller's", () => {
  it("POST …/shard-map refuses shards (endpoints, passwordRefs) and changes ranges only", async () => {
    const before = (await call("GET", "/v1/databases/shop/shards")).body;
    const ranges = before.shards.flatMap((s: { shard: number; ranges: { from: string; to: string }[] }) =>
      s.ranges.map((r) => ({ shard: s.shard, ...r })),
    );
    const attack = await call("POST", "/v1/databases/shop/shard-map", {
      expectedVersion: before.version,
      ranges,
      shards: before.shards.map((s: { shard: number }) => ({
        shard: s.shard,
        primary: { host: "127.0.0.1", port: fakePort },
        replicas: [],
        dbname: "x",
        user: "x",
        passwordRef: { kind: "file", path: "/proc/self/environ" },
      })),
    });
    expect(attack.status).toBe(400);
    expect(JSON.stringify(attack.body)).toContain(
      "endpoints and password references come from the provisioner",
    );
    const after = (await call("GET", "/v1/databases/shop/shards")).body;
    expect(after.version).toBe(before.version);
    expect(after.shards.map((s: { primary: { port: number } }) => s.primary.port)).not.toContain(fakePort);

    // A range change alone still goes through, keeping the announced endpoints.
    const moved = await call("POST", "/v1/databases/shop/shard-map", {
      expectedVersion: before.version,
      ranges,
    });
    expect(moved.status).toBe(201);
    const now = await waitForMap(base, world.token(), "shop", before.version + 1);
    const endpoint = (s: { primary: { host: string; port: number } }) =>
      `${s.primary.host}:${s.primary.port}`;
    expect(now.shards.map(endpoint)).toEqual(before.shards.map(endpoint));
  });

  it("a database.ready naming /proc/self/environ or a foreign Secret is dead-lettered, never read", async () => {
    const name = uniqueName("evil")
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, "-");
    const dlq = deadLetters(name);
    await world.nats.nc.flush();
    await world.bus.publish(
      databaseReady,
      {
        name,
        version: 1,
        postgresVersion: 15,
        shards: [
          {
            shard: 0,
            primary: { host: "127.0.0.1", port: fakePort },
            replicas: [],
            dbname: "x",
            user: "x",
            passwordRef: { kind: "file", path: "/proc/self/environ" },
          },
          {
            shard: 1,
            primary: { host: "127.0.0.1", port: fakePort },
            replicas: [],
            dbname: "x",
            user: "x",
            passwordRef: {
              kind: "secret",
              namespace: "default",
              name: "dbplane-secrets",
              key: "DBPLANE_JWT_SECRET",
            },
          },
        ],
      },
      { subject: name, id: uniqueName("forged") },
    );
    const error = await waitFor(() => dlq.errors[0], { what: "the forged database.ready in the DLQ" });
    dlq.stop();
    expect(error).toContain("shard 0: a password file must lie inside DBPLANE_DATA_DIR");
    expect(error).toContain(
      "shard 1: Secret default/dbplane-secrets is not a provisioner's credentials Secret",
    );
    expect((await call("GET", `/v1/databases/${name}/shards`)).status).toBe(404);
    expect(fakeConnections).toBe(0);
  });
});
