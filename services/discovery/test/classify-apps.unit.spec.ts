import { describe, expect, it } from "vitest";
import { classifyCluster } from "../src/domain/cluster-inventory.ts";
import {
  container,
  fromConfigMap,
  fromSecret,
  literal,
  service,
  snapshot,
  workload,
} from "./cluster-fixtures.ts";

const pg = workload("StatefulSet", "shop", "pg", [
  container("postgres:17.2", [literal("POSTGRES_DB", "shop")]),
]);
const pgService = service("shop", "pg", { app: "pg" });

describe("apps and their links", () => {
  const app = (name: string, env: Parameters<typeof container>[1], namespace = "shop") =>
    workload("Deployment", namespace, name, [container(`example/${name}:1`, env)]);

  it.each([
    ["svc", "pg", "shop"],
    ["svc.ns", "pg.shop", "web"],
    ["svc.ns.svc", "pg.shop.svc", "web"],
    ["svc.ns.svc.cluster.local", "pg.shop.svc.cluster.local", "web"],
    ["a headless pod name", "pg-0.pg.shop.svc.cluster.local", "web"],
  ])("resolves the %s form", (_form, host, namespace) => {
    const a = app("api", [literal("PGHOST", host)], namespace);
    const { apps } = classifyCluster(snapshot({ workloads: [pg, a], services: [pgService] }));
    expect(apps[0]?.databases).toEqual([
      {
        via: "env",
        variable: "PGHOST",
        databaseId: pg.uid,
        endpoint: { host, port: 5432 },
        target: "discovered",
        role: "any",
      },
    ]);
  });

  it.each([
    ["a public name", "db.example.com", "external"],
    ["a short name in another namespace", "pg", "external"],
    ["an IP address", "10.1.2.3", "external"],
  ])("marks %s external", (_what, host, target) => {
    const a = app("api", [literal("DB_HOST", host)], "web");
    const { apps } = classifyCluster(snapshot({ workloads: [pg, a], services: [pgService] }));
    expect(apps[0]?.databases[0]?.target).toBe(target);
  });

  it("reads literals, ConfigMap keys, Secret hints, envFrom and the annotation", () => {
    const literalApp = app("a", [literal("DATABASE_URL", "postgres://u:pw@pg:5432/shop")]);
    const configApp = app("b", [
      fromConfigMap("PGHOST", "settings", "db-host"),
      literal("PGDATABASE", "shop"),
    ]);
    const secretApp = app("c", [fromSecret("DATABASE_URL", "creds", "url")]);
    const envFromApp = workload("Deployment", "shop", "d", [
      container("d", [], { envFrom: [{ source: "configmap", object: "settings", prefix: "ORDERS_" }] }),
    ]);
    const annotated = workload("Deployment", "shop", "e", [container("e")], {
      annotations: { "dbplane.io/database": "pg.shop:5432/shop" },
    });
    const configMaps = [
      {
        kind: "ConfigMap",
        namespace: "shop",
        name: "settings",
        uid: "cm",
        data: { "db-host": "pg", DB_HOST: "pg.shop" },
      },
    ];
    const secrets = [
      {
        kind: "Secret",
        namespace: "shop",
        name: "creds",
        uid: "s",
        keys: ["url", "password"],
        hints: { url: { host: "pg", port: 5432, dbname: "shop" } },
      },
    ];
    const { apps } = classifyCluster(
      snapshot({
        workloads: [pg, literalApp, configApp, secretApp, envFromApp, annotated],
        services: [pgService],
        configMaps,
        secrets,
      }),
    );
    const links = apps.map((a) => [
      a.workload.name,
      a.databases.map((d) => [d.via, d.variable, d.target, d.databaseId === pg.uid, d.dbname]),
    ]);
    expect(links).toEqual([
      ["a", [["env", "DATABASE_URL", "discovered", true, "shop"]]],
      ["b", [["configmap", "PGHOST", "discovered", true, "shop"]]],
      ["c", [["secret-ref", "DATABASE_URL", "discovered", true, "shop"]]],
      ["d", [["configmap", "ORDERS_DB_HOST", "discovered", true, undefined]]],
      ["e", [["annotation", "dbplane.io/database", "discovered", true, "shop"]]],
    ]);
  });

  it("expands $(VAR) references to earlier variables, as the kubelet does", () => {
    const a = app("api", [
      literal("DB_SERVICE", "pg.shop"),
      literal("DATABASE_URL", "postgres://$(USER):$(PASS)@$(DB_SERVICE)/shop"),
    ]);
    const { apps } = classifyCluster(snapshot({ workloads: [pg, a], services: [pgService] }));
    expect(apps[0]?.databases[0]).toMatchObject({
      target: "discovered",
      endpoint: { host: "pg.shop", port: 5432 },
    });
  });

  it.each([
    ["an empty DATABASE_URL", [literal("DATABASE_URL", "")]],
    ["a malformed URL", [literal("DATABASE_URL", "postgres://user@:notaport/x")]],
    ["a missing ConfigMap", [fromConfigMap("PGHOST", "nope", "host")]],
    ["a ConfigMap key dropped as too big", [fromConfigMap("PGHOST", "big", "host")]],
    ["a Secret key that is not a connection setting", [fromSecret("DATABASE_URL", "creds", "password")]],
  ])("keeps an app with %s, its database unknown", (_what, env) => {
    const secrets = [
      { kind: "Secret", namespace: "shop", name: "creds", uid: "s", keys: ["password"], hints: {} },
    ];
    const configMaps = [{ kind: "ConfigMap", namespace: "shop", name: "big", uid: "b", data: {} }];
    const { apps } = classifyCluster(snapshot({ workloads: [app("api", env)], secrets, configMaps }));
    expect(apps[0]?.databases).toEqual([expect.objectContaining({ target: "unknown" })]);
    expect(apps[0]?.databases[0]?.endpoint).toBeUndefined();
  });

  it("does not count the server's own POSTGRES_* settings as an app", () => {
    const server = workload("StatefulSet", "shop", "pg2", [
      container("postgres:16", [literal("POSTGRES_HOST", "localhost")]),
    ]);
    expect(classifyCluster(snapshot({ workloads: [server] })).apps).toEqual([]);
  });
});
