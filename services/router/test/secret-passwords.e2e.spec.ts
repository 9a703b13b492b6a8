// Shards whose passwordRef is a Kubernetes Secret (as the provisioner's Kubernetes driver
// announces them): the router reads the Secret through DBPLANE_KUBECONFIG and routes to them;
// a shard whose Secret is missing answers 503 naming the Secret, never a password.

import { databaseReady } from "@dbplane/contracts";
import { type KubeApiDouble, startKubeApiDouble, uniqueName } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, createRouterWorld, type RouterWorld, waitForMap } from "./router-world.ts";

const PASSWORD = "from-the-secret-not-a-real-password";
let world: RouterWorld;
let kube: KubeApiDouble;
let base: string;
const call = (method: string, path: string, body?: unknown) => api(base, world.token(), method, path, body);

/** Announces `name` with every shard's password in `{name}-shard-{n}-credentials`, as the Kubernetes driver does. */
async function announce(name: string) {
  await world.bus.publish(
    databaseReady,
    {
      name,
      version: 1,
      postgresVersion: 15,
      shards: world.shards.map((s, i) => ({
        shard: i,
        primary: { host: "127.0.0.1", port: s.port },
        replicas: [],
        dbname: s.db.name,
        user: "postgres",
        passwordRef: {
          kind: "secret" as const,
          namespace: "default",
          name: `${name}-shard-${i}-credentials`,
          key: "password",
        },
      })),
    },
    { subject: name, id: uniqueName("ready") },
  );
}

beforeAll(async () => {
  kube = await startKubeApiDouble();
  world = await createRouterWorld(1);
  kube.put({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "kshop-shard-0-credentials", namespace: "default" },
    data: { password: Buffer.from(PASSWORD).toString("base64") },
  });
  base = (await world.startReplica({ env: { DBPLANE_KUBECONFIG: kube.kubeConfigPath } })).base;
});
afterAll(async () => {
  await world?.dispose();
  await kube?.close();
});

describe("shard passwords in Kubernetes Secrets", () => {
  it("routes a keyed query to a shard whose password is in a Secret", async () => {
    await announce("kshop");
    await waitForMap(base, world.token(), "kshop");
    const res = await call("POST", "/v1/databases/kshop/query", {
      sql: "SELECT current_database() AS db",
      key: { type: "bigint", value: 7 },
    });
    expect(res.status).toBe(200);
    expect(res.body.rows).toEqual([{ db: world.shards[0]!.db.name }]);
  });

  it("answers 503 naming the missing Secret, never a password", async () => {
    await announce("knosecret");
    await waitForMap(base, world.token(), "knosecret");
    const res = await call("POST", "/v1/databases/knosecret/query", {
      sql: "SELECT 1 AS one",
      key: { type: "bigint", value: 7 },
    });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ code: "SHARD_UNAVAILABLE", database: "knosecret", shard: 0 });
    expect(res.body.detail).toContain(
      'cannot read key "password" of Secret default/knosecret-shard-0-credentials: the Secret does not exist',
    );
    const shards = await call("GET", "/v1/databases/kshop/shards");
    expect(JSON.stringify(shards.body)).not.toContain(PASSWORD);
  });
});
