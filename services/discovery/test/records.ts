import type { DatabaseRecord } from "../src/domain/inventory-types.ts";

/** The shop's PostgreSQL StatefulSet as discovery records it: one database record for the specs. */
export function shopDatabase(labels: Record<string, string> = {}): DatabaseRecord {
  return {
    id: "db1",
    driver: "kubernetes",
    engine: "postgresql",
    endpoint: { host: "pg.shop.svc.cluster.local", port: 5432 },
    workload: { namespace: "shop", kind: "StatefulSet", name: "pg", uid: "db1" },
    labels,
  };
}
