import { createDatabase } from "@dbplane/contracts";
import { describe, expect, it } from "vitest";
import { sameRequest } from "../src/domain/database-spec.ts";
import { postgresSettings, quantityValue, renderSettings } from "../src/domain/postgres-settings.ts";
import { shardManifests, shardNames } from "../src/drivers/kubernetes/shard-manifests.ts";
import { parseMajor } from "../src/drivers/local/pg-binaries.ts";

const spec = (over: Record<string, unknown> = {}) =>
  createDatabase.schema.parse({ name: "orders", storage: { size: "1Gi" }, ...over });

describe("quantities and postgresql.conf sizes", () => {
  it("reads Kubernetes quantities", () => {
    expect(quantityValue("1Gi")).toBe(1024 ** 3);
    expect(quantityValue("512Mi")).toBe(512 * 1024 ** 2);
    expect(quantityValue("2G")).toBe(2e9);
    expect(quantityValue("500m")).toBe(0.5);
    expect(quantityValue("1.5e9")).toBe(1.5e9);
  });

  it("derives sizes from memory and always sets wal_level=logical", () => {
    const s = postgresSettings("4Gi", 5432);
    expect(s).toMatchObject({
      wal_level: "logical",
      shared_buffers: "1024MB",
      effective_cache_size: "3072MB",
      maintenance_work_mem: "256MB",
      port: 5432,
    });
    expect(postgresSettings("64Gi", 1).maintenance_work_mem).toBe("1024MB");
    expect(renderSettings({ port: 1, wal_level: "logical", odd: "it's" })).toBe(
      "port = 1\nwal_level = 'logical'\nodd = 'it''s'\n",
    );
  });
});

describe("create requests", () => {
  it("are the same regardless of key order and defaults written out", () => {
    expect(
      sameRequest(
        spec(),
        createDatabase.schema.parse({ storage: { size: "1Gi" }, name: "orders", shards: 1 }),
      ),
    ).toBe(true);
    expect(sameRequest(spec({ shards: 2 }), spec())).toBe(false);
    expect(sameRequest(spec({ resources: { memory: "1Gi" } }), spec())).toBe(false);
  });
});

describe("PostgreSQL binaries", () => {
  it("reads the major version from --version output", () => {
    expect(parseMajor("pg_ctl (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)")).toBe(15);
    expect(parseMajor("initdb (PostgreSQL) 17.2")).toBe(17);
    expect(parseMajor("something else")).toBeUndefined();
  });
});

describe("Kubernetes shard manifests", () => {
  const input = {
    spec: spec({ shards: 2, replicasPerShard: 1 }),
    shard: 1,
    replicas: 1,
    namespace: "db",
    image: "postgres",
    password: "pw-xyz",
  };

  it("are a pure function of the desired state", () => {
    expect(shardManifests(input)).toEqual(shardManifests(input));
  });

  it("name and label every object of the shard", () => {
    const objects = shardManifests(input);
    expect(objects.map((o) => `${o.kind}/${o.metadata?.name}`).sort()).toEqual([
      "ConfigMap/orders-shard-1-config",
      "Secret/orders-shard-1-credentials",
      "Service/orders-shard-1",
      "Service/orders-shard-1-headless",
      "Service/orders-shard-1-read",
      "StatefulSet/orders-shard-1",
    ]);
    for (const o of objects) {
      expect(o.metadata?.labels).toEqual({
        "app.kubernetes.io/managed-by": "dbplane",
        "dbplane.io/database": "orders",
        "dbplane.io/shard": "1",
      });
    }
    expect(shardNames("orders", 1).secret).toBe("orders-shard-1-credentials");
  });

  it("keep the password in the Secret only", () => {
    const objects = shardManifests(input);
    const outside = JSON.stringify(objects.filter((o) => o.kind !== "Secret"));
    expect(outside).not.toContain("pw-xyz");
    expect(outside).not.toContain(Buffer.from("pw-xyz").toString("base64"));
  });
});
