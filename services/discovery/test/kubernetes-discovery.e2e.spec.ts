import { type KubeApiDouble, type SeenEvent, uniqueName, waitFor } from "@dbplane/testkit";
import { describe, expect, it } from "vitest";
import { type DiscoveryWorld, eachTestKubeWorld, shortType } from "./discovery-world.ts";
import {
  configMap,
  deployment,
  env,
  namespace,
  postgresStatefulSet,
  secret,
  service,
} from "./kube-objects.ts";

const SECRET_PASSWORD = "Xy9-Secret-Value-4711";
const LITERAL_PASSWORD = "Lit-Pw-0815";

let double: KubeApiDouble;
let world: DiscoveryWorld;

eachTestKubeWorld((d, w) => {
  [double, world] = [d, w];
});

const kubeEnv = (secretNamespaces = "") => ({
  DBPLANE_KUBECONFIG: double.kubeConfigPath,
  DBPLANE_DISCOVERY_DRIVER: "kubernetes",
  DBPLANE_DISCOVERY_SECRET_NAMESPACES: secretNamespaces,
});
const ofType = (events: SeenEvent[], type: string) => events.filter((e) => shortType(e.type) === type);

/** A namespace with a postgres StatefulSet + Service and three apps, one per way to name the server. */
function createShop(): { ns: string; pgUid: string; appUids: Record<string, string> } {
  const ns = uniqueName("shop").replace(/_/g, "-");
  namespace(double, ns);
  double.put(secret(ns, "pg-admin", { password: SECRET_PASSWORD }));
  const pg = double.put(
    postgresStatefulSet(ns, "pg", [env.secret("POSTGRES_PASSWORD", "pg-admin", "password")]),
  );
  double.put(service(ns, "pg", { app: "pg" }));
  double.put(configMap(ns, "settings", { PGHOST: "pg", PGDATABASE: "shop" }));
  double.put(
    secret(ns, "creds", {
      url: `postgres://app:${SECRET_PASSWORD}@pg.${ns}.svc.cluster.local:5432/shop`,
      password: SECRET_PASSWORD,
    }),
  );
  const apps = [
    double.put(
      deployment(ns, "literal", [
        env.literal("DATABASE_URL", `postgres://app:${LITERAL_PASSWORD}@pg:5432/shop`),
      ]),
    ),
    double.put(
      deployment(ns, "configured", [
        env.configMap("PGHOST", "settings", "PGHOST"),
        env.configMap("PGDATABASE", "settings", "PGDATABASE"),
      ]),
    ),
    double.put(
      deployment(ns, "secretive", [
        env.secret("DATABASE_URL", "creds", "url"),
        env.secret("DB_PASSWORD", "creds", "password"),
      ]),
    ),
  ];
  return {
    ns,
    pgUid: pg.metadata!.uid!,
    appUids: Object.fromEntries(apps.map((a) => [a.metadata!.name!, a.metadata!.uid!])),
  };
}

describe("discovery on Kubernetes (API double)", () => {
  it("finds one database and three apps linked to it, and no secret shows anywhere", async () => {
    const { ns, pgUid, appUids } = createShop();
    // Excluded by default: system namespaces are never reported.
    double.put(postgresStatefulSet("kube-system", "system-pg"));
    const replica = await world.startReplica({ env: kubeEnv(ns) });

    await waitFor(async () => ofType(await world.events(), "app.discovered").length === 3, {
      what: "three apps",
    });
    const events = await world.events();
    expect(events.map((e) => shortType(e.type)).sort()).toEqual([
      "app.discovered",
      "app.discovered",
      "app.discovered",
      "database.discovered",
    ]);
    expect(ofType(events, "database.discovered").map((e) => e.subject)).toEqual([pgUid]);
    const apps = ofType(events, "app.discovered");
    expect(apps.map((e) => e.subject).sort()).toEqual(Object.values(appUids).sort());
    for (const app of apps) {
      expect(app.data.databases).toEqual([
        expect.objectContaining({ databaseId: pgUid, target: "discovered" }),
      ]);
    }
    const via = Object.fromEntries(
      apps.map((e) => [
        (e.data.workload as { name: string }).name,
        (e.data.databases as { via: string }[])[0]!.via,
      ]),
    );
    expect(via).toEqual({ literal: "env", configured: "configmap", secretive: "secret-ref" });

    const databases = await replica.get(`/v1/databases?namespace=${ns}`);
    expect((databases.json as { items: { id: string }[] }).items.map((d) => d.id)).toEqual([pgUid]);
    const listed = await replica.get(`/v1/apps?namespace=${ns}&label=team%3Dshop`);
    expect((listed.json as { items: unknown[] }).items).toHaveLength(3);
    const graph = await replica.get(`/v1/graph?namespace=${ns}`);
    expect((graph.json as { edges: { to: string }[] }).edges.map((e) => e.to)).toEqual([pgUid, pgUid, pgUid]);
    const mermaid = await replica.get(`/v1/graph?namespace=${ns}`, { accept: "text/vnd.mermaid" });
    expect(mermaid.text).toMatch(/^flowchart LR\n/);
    expect(mermaid.text).toContain(`[("${ns}/pg")]`);
    const badLabel = await replica.get("/v1/apps?label=a%3Db%3Dc");
    expect(badLabel.status).toBe(400);
    expect(badLabel.json).toMatchObject({ errors: [{ field: "query.label" }] });
    const badNamespace = await replica.get("/v1/databases?namespace=Not_A_Namespace");
    expect(badNamespace.status).toBe(400);
    expect(JSON.stringify(badNamespace.json)).toContain("query.namespace");

    const seen = [
      ...events.map((e) => e.raw),
      world.output(),
      databases.text,
      listed.text,
      graph.text,
      mermaid.text,
      (await replica.get("/v1/apps")).text,
      (await replica.get("/metrics")).text,
      await world.bucketText("discovery_facts"),
    ].join("\n");
    expect(seen).toContain(pgUid);
    expect(world.output()).toContain("first view complete");
    for (const value of [
      SECRET_PASSWORD,
      Buffer.from(SECRET_PASSWORD).toString("base64"),
      LITERAL_PASSWORD,
    ]) {
      expect(seen).not.toContain(value);
    }
    expect(seen).not.toContain("system-pg");
  });

  it("reports an app's new link when its env changes, and a deleted StatefulSet as lost", async () => {
    const { ns, pgUid, appUids } = createShop();
    await world.startReplica({ env: kubeEnv(ns) });
    await waitFor(async () => ofType(await world.events(), "app.discovered").length === 3, {
      what: "three apps",
    });

    const other = double.put(postgresStatefulSet(ns, "reports-pg"));
    double.put(service(ns, "reports-pg", { app: "reports-pg" }));
    await waitFor(async () => ofType(await world.events(), "database.discovered").length === 2, {
      what: "the second server",
    });
    double.put(
      deployment(ns, "literal", [
        env.literal("DATABASE_URL", `postgres://app:${LITERAL_PASSWORD}@reports-pg.${ns}:5432/reports`),
      ]),
    );
    await waitFor(async () => ofType(await world.events(), "app.changed").length >= 1, {
      what: "app.changed",
    });
    const [changed] = ofType(await world.events(), "app.changed");
    expect(changed?.subject).toBe(appUids.literal);
    expect(changed?.data.databases).toEqual([
      expect.objectContaining({
        databaseId: other.metadata!.uid,
        dbname: "reports",
        target: "discovered",
        endpoint: { host: `reports-pg.${ns}`, port: 5432 },
      }),
    ]);

    double.delete("StatefulSet", ns, "pg");
    await waitFor(async () => ofType(await world.events(), "database.lost").length >= 1, {
      what: "database.lost",
    });
    const events = await world.events();
    expect(ofType(events, "database.lost").map((e) => e.subject)).toEqual([pgUid]);
    // The two apps that still point at the deleted server now point outside what is known.
    await waitFor(async () => ofType(await world.events(), "app.changed").length >= 3, {
      what: "apps relinked",
    });
    const relinked = ofType(await world.events(), "app.changed").slice(1);
    expect(relinked.map((e) => e.subject).sort()).toEqual([appUids.configured, appUids.secretive].sort());
    for (const e of relinked)
      expect(e.data.databases).toEqual([expect.objectContaining({ target: "external" })]);
    expect(events.map((e) => e.raw).join("\n") + world.output()).not.toContain(SECRET_PASSWORD);
  });

  it("reads only the Secrets workloads reference, by name, in the allowed namespaces — never a list or watch", async () => {
    const { ns, appUids } = createShop();
    double.put(secret(ns, "unreferenced", { password: SECRET_PASSWORD }));
    const other = uniqueName("other").replace(/_/g, "-");
    namespace(double, other);
    double.put(secret(other, "creds", { url: `postgres://app:${SECRET_PASSWORD}@pg.${ns}:5432/shop` }));
    const outside = double.put(deployment(other, "outside", [env.secret("DATABASE_URL", "creds", "url")]));
    await world.startReplica({ env: { ...kubeEnv(ns), DBPLANE_DISCOVERY_SECRET_REFRESH_MS: "1000" } });
    await waitFor(async () => ofType(await world.events(), "app.discovered").length === 4, {
      what: "four apps",
    });

    const secretRequests = double.requests.filter((r) => /\/secrets(\/|$)/.test(r.path));
    expect(secretRequests.filter((r) => r.watch || r.path.endsWith("/secrets"))).toEqual([]);
    expect(new Set(secretRequests.map((r) => `${r.method} ${r.path}`))).toEqual(
      new Set([
        `GET /api/v1/namespaces/${ns}/secrets/creds`,
        `GET /api/v1/namespaces/${ns}/secrets/pg-admin`,
      ]),
    );
    // The app whose Secret lies outside the allowed namespaces is seen, but not its Secret's hint.
    const discovered = ofType(await world.events(), "app.discovered");
    const link = (uid: string) => discovered.find((e) => e.subject === uid)?.data.databases;
    expect(link(outside.metadata!.uid!)).toEqual([
      expect.objectContaining({ variable: "DATABASE_URL", via: "secret-ref", target: "unknown" }),
    ]);
    expect(link(appUids.secretive!)).toEqual([expect.objectContaining({ target: "discovered" })]);

    // A changed value is read again on the refresh, and the app follows it.
    double.put(secret(ns, "creds", { url: `postgres://app:${SECRET_PASSWORD}@elsewhere.example:5432/shop` }));
    await waitFor(
      async () => ofType(await world.events(), "app.changed").some((e) => e.subject === appUids.secretive),
      { what: "the app relinked after its Secret changed" },
    );
    const changed = ofType(await world.events(), "app.changed").find((e) => e.subject === appUids.secretive);
    expect(changed?.data.databases).toEqual([expect.objectContaining({ target: "external" })]);
    expect((await world.events()).map((e) => e.raw).join("\n") + world.output()).not.toContain(
      SECRET_PASSWORD,
    );
  });
});
