import { rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, type KubeApiDouble, startKubeApiDouble, waitFor } from "@dbplane/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDiscoveryWorld, type DiscoveryWorld, shortType } from "./discovery-world.ts";
import { configMap, deployment, env, namespace, postgresStatefulSet, service } from "./kube-objects.ts";

let double: KubeApiDouble | undefined;
let world: DiscoveryWorld;

beforeEach(async () => {
  world = await createDiscoveryWorld();
});
afterEach(async () => {
  await world.dispose();
  await double?.close();
  double = undefined;
});

const count = async (type: string) => (await world.events()).filter((e) => shortType(e.type) === type).length;

describe("discovery on Kubernetes: bad objects and an absent API server", () => {
  it("classifies malformed objects as unknown and keeps going", async () => {
    double = await startKubeApiDouble();
    namespace(double, "odd");
    double.put(postgresStatefulSet("odd", "pg"));
    double.put(service("odd", "pg", { app: "pg" }));
    double.put(configMap("odd", "huge", { PGHOST: `pg${".x".repeat(600_000)}` }));
    double.put(deployment("odd", "empty", [env.literal("DATABASE_URL", "")]));
    double.put(deployment("odd", "malformed", [env.literal("DATABASE_URL", "postgres://user@:notaport/x")]));
    double.put(deployment("odd", "huge", [env.configMap("PGHOST", "huge", "PGHOST")]));
    const garbage = deployment("odd", "garbage", []);
    (garbage.spec as { template: { spec: unknown } }).template.spec = { containers: "not a list" };
    double.put(garbage);
    const weird = deployment("odd", "weird-env", []);
    (weird.spec as { template: { spec: { containers: unknown[] } } }).template.spec.containers = [
      {
        name: "c",
        image: 42,
        env: [{ name: 7 }, null, "x", { name: "PGHOST", valueFrom: { secretKeyRef: {} } }],
      },
    ];
    double.put(weird);
    // An API server validates label values (≤ 63 characters); the double does not, like a buggy one.
    const longLabel = deployment("odd", "long-label", [env.literal("PGHOST", "pg")]);
    longLabel.metadata!.labels = { note: "x".repeat(100) };
    double.put(longLabel);
    const replica = await world.startReplica({
      env: {
        DBPLANE_KUBECONFIG: double.kubeConfigPath,
        DBPLANE_DISCOVERY_DRIVER: "kubernetes",
      },
    });

    await waitFor(async () => (await count("app.discovered")) === 3, {
      what: "the three apps with unreadable settings",
    });
    const apps = (await world.events()).filter((e) => shortType(e.type) === "app.discovered");
    for (const app of apps)
      expect(app.data.databases).toEqual([expect.objectContaining({ target: "unknown" })]);
    expect(apps.map((a) => (a.data.workload as { name: string }).name).sort()).toEqual([
      "empty",
      "huge",
      "malformed",
    ]);

    double.put(deployment("odd", "fine", [env.literal("PGHOST", "pg")]));
    await waitFor(async () => (await count("app.discovered")) === 4, {
      what: "a good app after the bad ones",
    });
    expect((await replica.get("/health/ready")).status).toBe(200);
    expect(replica.svc.output()).toContain("fact not publishable; left out");
  });

  it("watches only the configured namespaces", async () => {
    double = await startKubeApiDouble();
    for (const ns of ["watched", "ignored"]) {
      namespace(double, ns);
      double.put(postgresStatefulSet(ns, "pg"));
      double.put(service(ns, "pg", { app: "pg" }));
      double.put(deployment(ns, "app", [env.literal("PGHOST", "pg")]));
    }
    const replica = await world.startReplica({
      env: {
        DBPLANE_KUBECONFIG: double.kubeConfigPath,
        DBPLANE_DISCOVERY_DRIVER: "kubernetes",
        DBPLANE_DISCOVERY_NAMESPACES: "watched",
      },
    });
    await waitFor(async () => (await count("app.discovered")) === 1, { what: "the watched namespace's app" });
    double.put(deployment("ignored", "later", [env.literal("PGHOST", "pg")]));
    double.put(deployment("watched", "later", [env.literal("PGHOST", "pg")]));
    await waitFor(async () => (await count("app.discovered")) === 2, {
      what: "the later app in the watched namespace",
    });
    const namespaces = (await world.events()).map(
      (e) => (e.data.workload as { namespace: string }).namespace,
    );
    expect(new Set(namespaces)).toEqual(new Set(["watched"]));
    expect(await replica.metric("dbplane_discovery_objects_watched", { kind: "Deployment" })).toBe(2);
  });

  it("waits for an API server that is not up yet, then discovers", async () => {
    const port = await freePort();
    const kubeconfig = join(tmpdir(), `${world.nats.namespace}-kubeconfig.yaml`);
    await writeFile(
      kubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        `clusters: [{ name: c, cluster: { server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true } }]`,
        "users: [{ name: u, user: { token: t } }]",
        "contexts: [{ name: x, context: { cluster: c, user: u } }]",
        "current-context: x",
      ].join("\n"),
    );
    try {
      const replica = await world.startReplica({
        env: { DBPLANE_KUBECONFIG: kubeconfig, DBPLANE_DISCOVERY_DRIVER: "kubernetes" },
        waitReady: false,
      });
      await waitFor(() => replica.svc.output().includes("watch failed; restarting with backoff"), {
        what: "a failed first list",
      });
      await waitFor(
        async () => (await replica.get("/health/live").catch(() => ({ status: 0 }))).status === 200,
        { what: "the HTTP server" },
      );
      expect((await replica.get("/health/ready")).status).toBe(503);

      double = await startKubeApiDouble({ port });
      namespace(double, "late");
      double.put(postgresStatefulSet("late", "pg"));
      double.put(service("late", "pg", { app: "pg" }));
      double.put(deployment("late", "app", [env.literal("PGHOST", "pg")]));
      await waitFor(async () => (await count("app.discovered")) === 1, {
        what: "discovery once the API answers",
        timeoutMs: 60_000,
      });
      expect(
        await replica.metric("dbplane_discovery_watch_restarts_total", { reason: "error" }),
      ).toBeGreaterThan(0);
      await waitFor(async () => (await replica.get("/health/ready")).status === 200, { what: "ready" });
    } finally {
      await rm(kubeconfig, { force: true });
    }
  });
});
