import {
  type KubeApiDouble,
  knownCustomResources,
  type SeenEvent,
  uniqueName,
  waitFor,
} from "@dbplane/testkit";
import { describe, expect, it } from "vitest";
import { type DiscoveryWorld, eachTestKubeWorld, shortType } from "./discovery-world.ts";
import { deployment, env, namespace, postgresStatefulSet, service } from "./kube-objects.ts";

let double: KubeApiDouble;
let world: DiscoveryWorld;

eachTestKubeWorld((d, w) => {
  [double, world] = [d, w];
});

const kubeEnv = () => ({ DBPLANE_KUBECONFIG: double.kubeConfigPath, DBPLANE_DISCOVERY_DRIVER: "kubernetes" });
const tally = (events: SeenEvent[]) => events.map((e) => `${shortType(e.type)} ${e.subject}`).sort();
const count = async (type: string) => (await world.events()).filter((e) => shortType(e.type) === type).length;

function createServerAndApps(ns: string) {
  namespace(double, ns);
  const pg = double.put(postgresStatefulSet(ns, "pg"));
  double.put(service(ns, "pg", { app: "pg" }));
  const a = double.put(deployment(ns, "a", [env.literal("PGHOST", "pg")]));
  const b = double.put(deployment(ns, "b", [env.literal("DATABASE_URL", "postgres://pg/shop")]));
  return { pg: pg.metadata!.uid!, a: a.metadata!.uid!, b: b.metadata!.uid! };
}

describe("discovery replicas and expired watches", () => {
  it("publishes each fact once when two processes watch the same cluster", async () => {
    const ns = uniqueName("two").replace(/_/g, "-");
    const uid = createServerAndApps(ns);
    const replicas = await world.startReplicas(2, { env: kubeEnv() });
    await waitFor(async () => (await count("app.discovered")) === 2, { what: "both apps" });

    const other = double.put(postgresStatefulSet(ns, "other"));
    double.put(service(ns, "other", { app: "other" }));
    await waitFor(async () => (await count("database.discovered")) === 2, { what: "the second server" });
    double.put(deployment(ns, "a", [env.literal("PGHOST", "other")]));
    await waitFor(async () => (await count("app.changed")) === 1, { what: "a's new link" });
    double.delete("Deployment", ns, "b");
    await waitFor(async () => (await count("app.lost")) === 1, { what: "b lost" });
    double.delete("StatefulSet", ns, "pg");
    await waitFor(async () => (await count("database.lost")) === 1, { what: "pg lost" });
    // Both replicas have converged on the final view, so any late duplicate would be in by now.
    for (const replica of replicas) {
      await waitFor(
        async () => ((await replica.get("/v1/databases")).json as { items: unknown[] }).items.length === 1,
        {
          what: "each replica's view",
        },
      );
    }

    const events = await world.events();
    expect(tally(events)).toEqual(
      [
        `database.discovered ${uid.pg}`,
        `database.discovered ${other.metadata!.uid}`,
        `app.discovered ${uid.a}`,
        `app.discovered ${uid.b}`,
        `app.changed ${uid.a}`,
        `app.lost ${uid.b}`,
        `database.lost ${uid.pg}`,
      ].sort(),
    );
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    // Stored events only: between them the replicas published each fact once.
    const published = await Promise.all(
      replicas.map((r) => r.metric("dbplane_discovery_events_published_total")),
    );
    expect(published[0]! + published[1]!).toBe(7);
  });

  it("relists after 410 Gone: the change made meanwhile is reported once, nothing else is repeated", async () => {
    const ns = uniqueName("gone").replace(/_/g, "-");
    const uid = createServerAndApps(ns);
    const replica = await world.startReplica({ env: kubeEnv() });
    await waitFor(async () => (await count("app.discovered")) === 2, { what: "both apps" });
    const before = await replica.metric("dbplane_discovery_watch_restarts_total", { reason: "relist" });

    double.expireWatches();
    double.delete("Deployment", ns, "a");
    // Deployments, StatefulSets, DaemonSets, Services, ConfigMaps and the CRDs relist (Secrets are
    // read by name, never watched).
    await waitFor(
      async () =>
        (await replica.metric("dbplane_discovery_watch_restarts_total", { reason: "relist" })) >= before + 6,
      {
        what: "every watch to relist",
      },
    );
    await waitFor(async () => (await count("app.lost")) === 1, { what: "the app deleted during the gap" });

    double.expireWatches();
    await waitFor(
      async () =>
        (await replica.metric("dbplane_discovery_watch_restarts_total", { reason: "relist" })) >= before + 12,
      {
        what: "a second relist with nothing changed",
      },
    );
    const late = double.put(deployment(ns, "late", [env.literal("PGHOST", `pg.${ns}.svc`)]));
    await waitFor(async () => (await count("app.discovered")) === 3, {
      what: "an app created after the relists",
    });

    expect(tally(await world.events())).toEqual(
      [
        `database.discovered ${uid.pg}`,
        `app.discovered ${uid.a}`,
        `app.discovered ${uid.b}`,
        `app.lost ${uid.a}`,
        `app.discovered ${late.metadata!.uid}`,
      ].sort(),
    );
  });

  it("watches an operator's clusters once its CRD appears, with primary and replica Services", async () => {
    const ns = uniqueName("cnpg").replace(/_/g, "-");
    namespace(double, ns);
    const replica = await world.startReplica({ env: kubeEnv() });
    double.put(deployment(ns, "reports", [env.literal("DATABASE_URL", "postgres://main-ro:5432/app")]));
    await waitFor(async () => (await count("app.discovered")) === 1, {
      what: "the app, its database external",
    });

    double.addCustomResource(knownCustomResources.cloudNativePgCluster);
    const cluster = double.put({
      apiVersion: "postgresql.cnpg.io/v1",
      kind: "Cluster",
      metadata: { name: "main", namespace: ns },
      spec: { instances: 3, imageName: "ghcr.io/cloudnative-pg/postgresql:17.2" },
    });
    double.put(service(ns, "main-rw", { "cnpg.io/cluster": "main", "cnpg.io/instanceRole": "primary" }));
    double.put(service(ns, "main-ro", { "cnpg.io/cluster": "main", "cnpg.io/instanceRole": "replica" }));
    await waitFor(async () => (await count("app.changed")) === 1, { what: "the app linked to the cluster" });
    const events = await world.events();
    const database = events.find((e) => shortType(e.type) === "database.discovered");
    expect(database?.data).toMatchObject({
      id: cluster.metadata!.uid,
      managedBy: "cloudnative-pg",
      serverVersion: "17.2",
    });
    const changed = events.find((e) => shortType(e.type) === "app.changed");
    expect(changed?.data.databases).toEqual([
      expect.objectContaining({ databaseId: cluster.metadata!.uid, role: "replica" }),
    ]);
    expect(
      await replica.metric("dbplane_discovery_objects_watched", { kind: "postgresql.cnpg.io/Cluster" }),
    ).toBe(1);

    double.removeCustomResource("postgresql.cnpg.io", "clusters");
    await waitFor(async () => (await count("database.lost")) === 1, {
      what: "the cluster lost with its CRD",
    });
  });
});
