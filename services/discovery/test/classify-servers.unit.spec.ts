import { describe, expect, it } from "vitest";
import { classifyCluster } from "../src/domain/cluster-inventory.ts";
import { container, literal, operatorCluster, service, snapshot, workload } from "./cluster-fixtures.ts";

const pg = workload("StatefulSet", "shop", "pg", [
  container("postgres:17.2", [literal("POSTGRES_DB", "shop")]),
]);
const pgService = service("shop", "pg", { app: "pg" });

describe("PostgreSQL servers", () => {
  it("finds a postgres StatefulSet behind its Service, with version and database", () => {
    const { databases, apps } = classifyCluster(snapshot({ workloads: [pg], services: [pgService] }));
    expect(apps).toEqual([]);
    expect(databases).toEqual([
      expect.objectContaining({
        id: pg.uid,
        driver: "kubernetes",
        endpoint: { host: "pg.shop.svc.cluster.local", port: 5432 },
        dbname: "shop",
        serverVersion: "17.2",
        workload: { namespace: "shop", kind: "StatefulSet", name: "pg", uid: pg.uid },
        addresses: [{ host: "pg.shop.svc.cluster.local", port: 5432, role: "any", service: "pg" }],
      }),
    ]);
  });

  it.each([
    ["a postgres-family image", container("bitnami/postgresql:16"), true],
    ["any image listening on 5432", container("example/custom-db:1", [], { ports: [5432] }), true],
    ["an exporter next to postgres", container("prometheuscommunity/postgres-exporter"), false],
    ["a web app", container("nginx"), false],
  ])("classifies a workload with %s", (_what, c, isServer) => {
    const w = workload("Deployment", "ns", "w", [c]);
    expect(classifyCluster(snapshot({ workloads: [w] })).databases.length).toBe(isServer ? 1 : 0);
  });

  it("labels dbplane shards and tells the primary Service (pod 0) from the read Service", () => {
    const labels = {
      "app.kubernetes.io/managed-by": "dbplane",
      "dbplane.io/database": "orders",
      "dbplane.io/shard": "0",
    };
    const shard = workload("StatefulSet", "prod", "orders-shard-0", [container("postgres:17")], {
      labels,
      podLabels: { "dbplane.io/database": "orders", "dbplane.io/shard": "0" },
    });
    const selector = { "dbplane.io/database": "orders", "dbplane.io/shard": "0" };
    const services = [
      service("prod", "orders-shard-0-read", selector),
      service("prod", "orders-shard-0", {
        ...selector,
        "statefulset.kubernetes.io/pod-name": "orders-shard-0-0",
      }),
      service("prod", "orders-shard-0-headless", selector, 5432, { headless: true }),
    ];
    const [db] = classifyCluster(snapshot({ workloads: [shard], services })).databases;
    expect(db?.managedBy).toBe("dbplane");
    expect(db?.labels).toEqual(labels);
    expect(db?.endpoint.host).toBe("orders-shard-0.prod.svc.cluster.local");
    expect(db?.addresses?.map((a) => [a.service, a.role])).toEqual([
      ["orders-shard-0", "primary"],
      ["orders-shard-0-read", "any"],
      ["orders-shard-0-headless", "any"],
    ]);
  });

  it("reports a CloudNativePG cluster once, with its -rw primary and -ro replica Services", () => {
    const cluster = operatorCluster("cloudnative-pg", "Cluster", "db", "main", {
      instances: 3,
      imageName: "ghcr.io/cloudnative-pg/postgresql:17.1",
    });
    const services = [
      service("db", "main-rw", { "cnpg.io/cluster": "main", "cnpg.io/instanceRole": "primary" }),
      service("db", "main-ro", { "cnpg.io/cluster": "main", "cnpg.io/instanceRole": "replica" }),
    ];
    const reader = workload("Deployment", "web", "reports", [
      container("reports", [literal("DATABASE_URL", "postgres://u:p@main-ro.db/app")]),
    ]);
    const { databases, apps } = classifyCluster(
      snapshot({ operatorClusters: [cluster], services, workloads: [reader] }),
    );
    expect(databases).toHaveLength(1);
    expect(databases[0]).toMatchObject({
      id: cluster.uid,
      managedBy: "cloudnative-pg",
      serverVersion: "17.1",
      dbname: "app",
    });
    expect(databases[0]?.endpoint).toEqual({ host: "main-rw.db.svc.cluster.local", port: 5432 });
    expect(apps[0]?.databases[0]).toMatchObject({
      databaseId: cluster.uid,
      role: "replica",
      target: "discovered",
    });
  });

  it.each([
    [
      "Zalando",
      "zalando-postgres-operator",
      "postgresql",
      "cluster-name",
      "ghcr.io/zalando/spilo-16:3.2",
      "acid-main",
      "acid-main",
    ],
    [
      "Crunchy",
      "crunchy-postgres-operator",
      "PostgresCluster",
      "postgres-operator.crunchydata.com/cluster",
      "crunchy-postgres:ubi8-16.2",
      "hippo",
      "hippo-primary",
    ],
    [
      "StackGres",
      "stackgres",
      "SGCluster",
      "stackgres.io/cluster-name",
      "quay.io/stackgres/patroni:v3.2.2-pg16.1",
      "sg",
      "sg",
    ],
  ])(
    "folds %s's StatefulSet into its cluster resource",
    (_name, operator, kind, label, image, name, primary) => {
      const cluster = operatorCluster(operator, kind, "db", name);
      const sts = workload("StatefulSet", "db", `${name}-instance`, [container(image)], {
        labels: { [label]: name },
      });
      const { databases } = classifyCluster(snapshot({ operatorClusters: [cluster], workloads: [sts] }));
      expect(databases.map((d) => [d.id, d.managedBy, d.endpoint.host])).toEqual([
        [cluster.uid, operator, `${primary}.db.svc.cluster.local`],
      ]);
    },
  );

  it("counts KubeBlocks clusters only when they run PostgreSQL", () => {
    const postgres = operatorCluster("kubeblocks", "Cluster", "kb", "pg", { clusterDef: "postgresql" });
    const redis = operatorCluster("kubeblocks", "Cluster", "kb", "cache", { clusterDef: "redis" });
    const { databases } = classifyCluster(snapshot({ operatorClusters: [postgres, redis] }));
    expect(databases.map((d) => d.endpoint.host)).toEqual(["pg-postgresql.kb.svc.cluster.local"]);
  });
});
