import { RESHARD_ROLE } from "@dbplane/reshard";
import { describe, expect, it } from "vitest";
import { backupManifest, backupOutcome } from "../src/drivers/cloudnativepg/backup-manifest.ts";
import { clusterManifest } from "../src/drivers/cloudnativepg/cluster-manifest.ts";
import { cnpgValidator, schemaErrors } from "./cnpg-crds.ts";

const spec = {
  name: "shop",
  shards: 2,
  replicasPerShard: 2,
  postgresVersion: 17,
  storage: { size: "5Gi", storageClass: "fast" },
  resources: { cpu: "500m", memory: "1Gi" },
  shardedTables: [],
} as never;
const store = {
  url: "s3://dbplane-backups/test",
  endpoint: "http://minio.example:9000",
  credentialsSecret: "s3",
};
// biome-ignore lint/suspicious/noExplicitAny: manifest inspection
type Manifest = any;
const cluster = (over: object = {}): Manifest =>
  clusterManifest({
    spec,
    shard: 1,
    replicas: 2,
    namespace: "apps",
    image: "ghcr.io/cloudnative-pg/postgresql",
    backup: store,
    tlsSecret: "shop-shard-1-tls",
    ...over,
  });

describe("CloudNativePG manifests against CloudNativePG's own CRD schema", () => {
  const clusters = cnpgValidator("clusters");

  it("a shard's Cluster is valid, with and without backups, replicas and resources", () => {
    expect(schemaErrors(clusters, cluster())).toEqual([]);
    expect(
      schemaErrors(
        clusters,
        cluster({
          backup: undefined,
          tlsSecret: undefined,
          replicas: 0,
          spec: { ...(spec as object), resources: undefined },
        }),
      ),
    ).toEqual([]);
    expect(
      schemaErrors(
        clusters,
        cluster({ backup: { url: "s3://b", endpoint: undefined, credentialsSecret: undefined } }),
      ),
    ).toEqual([]);
  });

  it("the schema check is real: a field CloudNativePG does not know, or a wrong type, is refused", () => {
    const bad = cluster();
    bad.spec.bootstrap.initdb.ownerRole = "app";
    bad.spec.instances = "3";
    const errors = schemaErrors(clusters, bad);
    expect(errors.some((e) => e.startsWith("/spec/bootstrap/initdb") && e.includes("ownerRole"))).toBe(true);
    expect(errors.some((e) => e.startsWith("/spec/instances"))).toBe(true);
  });

  it("says what the issue asks: instances, storage, resources, logical WAL, initdb owner from <db>-app, managed roles, no superuser", () => {
    const { metadata, spec: s } = cluster();
    expect(metadata).toMatchObject({ name: "shop-shard-1", namespace: "apps" });
    expect(metadata.labels).toEqual({
      "app.kubernetes.io/managed-by": "dbplane",
      "dbplane.io/database": "shop",
      "dbplane.io/shard": "1",
    });
    expect(s.instances).toBe(3);
    expect(s.imageName).toBe("ghcr.io/cloudnative-pg/postgresql:17");
    expect(s.storage).toEqual({ size: "5Gi", storageClass: "fast" });
    expect(s.resources).toEqual({ requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "1Gi" } });
    expect(s.postgresql.parameters).toEqual({ wal_level: "logical" });
    expect(s.enableSuperuserAccess).toBe(false);
    expect(s.certificates).toEqual({
      serverTLSSecret: "shop-shard-1-tls",
      serverCASecret: "shop-shard-1-tls",
    });
    expect(s.bootstrap.initdb).toMatchObject({
      database: "shop",
      owner: "app",
      secret: { name: "shop-app" },
    });
    expect(s.managed.roles).toEqual([
      expect.objectContaining({
        name: "dbplane_monitor",
        login: true,
        inRoles: ["pg_monitor"],
        passwordSecret: { name: "shop-shard-1-monitor" },
      }),
      expect.objectContaining({
        name: RESHARD_ROLE,
        login: true,
        replication: true,
        bypassrls: true,
        inRoles: ["app"],
        passwordSecret: { name: "shop-shard-1-reshard" },
      }),
    ]);
    expect(s.backup.barmanObjectStore).toMatchObject({
      destinationPath: "s3://dbplane-backups/test/shop",
      endpointURL: "http://minio.example:9000",
      s3Credentials: { accessKeyId: { name: "s3", key: "AWS_ACCESS_KEY_ID" } },
    });
  });

  it("the reshard wrappers run at bootstrap, allowing only the database's own -rw Services, and carry no verifier", () => {
    const sql: string[] = cluster().spec.bootstrap.initdb.postInitApplicationSQL;
    expect(sql[0]).toBe(`CREATE ROLE ${RESHARD_ROLE} NOLOGIN`);
    expect(sql.join("\n")).toContain("SECURITY DEFINER");
    expect(sql.join("\n")).toContain(String.raw`E'^shop-shard-[0-9]+-rw\\.apps\\.svc$', 5432`);
    expect(sql.join("\n")).not.toMatch(/PASSWORD|SCRAM-SHA-256/);
  });

  it("a restored shard starts with no logical replication worker (a mid-reshard subscription would reach the live source) until its leftovers are removed", () => {
    const restored = {
      ...(spec as object),
      restoreFrom: { database: "shop-old", targetTime: "2026-12-05T10:00:00Z", bases: ["a", "b"] },
    };
    const off = cluster({ spec: restored });
    expect(schemaErrors(clusters, off)).toEqual([]);
    expect(off.spec.bootstrap.recovery).toBeDefined();
    expect(off.spec.postgresql.parameters).toEqual({
      wal_level: "logical",
      max_logical_replication_workers: "0",
    });
    const cleaned = cluster({ spec: restored, leftoversRemoved: true });
    expect(cleaned.spec.postgresql.parameters).toEqual({ wal_level: "logical" });
    expect(cluster().spec.postgresql.parameters).toEqual({ wal_level: "logical" });
  });

  it("a shard a split added to a restored database after its backup is made new, not recovered from a source shard that never existed", () => {
    const restored = {
      ...(spec as object),
      shards: 3,
      restoreFrom: { database: "shop-old", targetTime: "2026-12-05T10:00:00Z", bases: ["a", "b"] },
    };
    const added = cluster({ spec: restored, shard: 2, tlsSecret: "shop-shard-2-tls" });
    expect(schemaErrors(clusters, added)).toEqual([]);
    expect(added.spec.bootstrap.recovery).toBeUndefined();
    expect(added.spec.externalClusters).toBeUndefined();
    // The same database name as the recovered shards: every shard's endpoint names one database.
    expect(added.spec.bootstrap.initdb.database).toBe("shop-old");
    // Nothing of a reshard can have come with it: logical replication works from the start.
    expect(added.spec.postgresql.parameters).toEqual({ wal_level: "logical" });
    expect(cluster({ spec: restored, shard: 1 }).spec.bootstrap.recovery).toBeDefined();
  });

  it("a database made again under a deleted one's name archives under its own server name, and a restore finds each one's", () => {
    const first = cluster();
    expect(first.spec.backup.barmanObjectStore.serverName).toBeUndefined();
    const again = cluster({ incarnation: 2 });
    expect(schemaErrors(clusters, again)).toEqual([]);
    expect(again.spec.backup.barmanObjectStore).toMatchObject({
      destinationPath: "s3://dbplane-backups/test/shop",
      serverName: "shop-shard-1-incarnation-2",
    });
    const restoreOf = (bases: string[]) =>
      cluster({
        spec: {
          ...(spec as object),
          name: "shop-back",
          restoreFrom: { database: "shop", targetTime: "2026-12-05T10:00:00Z", bases },
        },
      }).spec.externalClusters[0].barmanObjectStore.serverName;
    const at = (server: string) => `s3://dbplane-backups/test/shop/${server}/base/20261204T010203`;
    expect(restoreOf([at("shop-shard-0-incarnation-2"), at("shop-shard-1-incarnation-2")])).toBe(
      "shop-shard-1-incarnation-2",
    );
    expect(restoreOf([at("shop-shard-0"), at("shop-shard-1")])).toBe("shop-shard-1");
    // A location that names no server (an older row): the Cluster's name, as before.
    expect(restoreOf(["a", "b"])).toBe("shop-shard-1");
  });

  it("a shard's Backup is valid under the Backup CRD, and its status decides the outcome", () => {
    const backup = backupManifest("shop", 1, "apps", "2026-12-04.nightly");
    expect(schemaErrors(cnpgValidator("backups"), backup)).toEqual([]);
    expect(backup.metadata?.name).toMatch(/^shop-shard-1-backup-[0-9a-f]{8}$/);
    expect(backupOutcome("b", undefined)).toMatchObject({ done: false });
    expect(backupOutcome("b", { phase: "running" })).toMatchObject({ done: false });
    expect(() => backupOutcome("b", { phase: "failed", error: "no bucket" })).toThrow(/no bucket/);
    expect(
      backupOutcome("b", {
        phase: "completed",
        destinationPath: "s3://dbplane-backups/test/shop",
        serverName: "shop-shard-1",
        backupId: "20261204T010203",
      }),
    ).toEqual({
      done: true,
      location: "s3://dbplane-backups/test/shop/shop-shard-1/base/20261204T010203",
      bytes: 0,
    });
  });
});
