import { ConfigError, parseConfig } from "@dbplane/service-kit";
import { describe, expect, it } from "vitest";
import { configSchema, quotasOf } from "../src/config.ts";

const base = {
  DBPLANE_JWT_SECRET: "x".repeat(32),
  DBPLANE_PG_URL: "postgres://postgres@127.0.0.1:5432/postgres",
};

describe("provisioner config", () => {
  it("defaults to the local driver under ./.data, schema provisioner", () => {
    const config = parseConfig(configSchema, base);
    expect(config).toMatchObject({
      DBPLANE_PROVISIONER_DRIVER: "local",
      DBPLANE_DATA_DIR: "./.data",
      DBPLANE_PROVISIONER_SCHEMA: "provisioner",
      DBPLANE_PG_OS_USER: "postgres",
      // The router's wire endpoint as a pod sees it; ./scripts/dev sets 127.0.0.1:7432.
      DBPLANE_PROVISIONER_ROUTER_PG_HOST: "dbplane-router",
      DBPLANE_PROVISIONER_ROUTER_PG_PORT: 6432,
      // The grace for a primary that may be alive; none for one whose postmaster crashed.
      DBPLANE_FAILOVER_AFTER_MS: 5_000,
      DBPLANE_FAILOVER_DEAD_AFTER_MS: 0,
    });
    // Unset: the driver uses the pod's own namespace (or `default` outside a cluster).
    expect(config.DBPLANE_KUBE_NAMESPACE).toBeUndefined();
  });

  it("names every wrong variable at once", () => {
    const env = {
      ...base,
      DBPLANE_PROVISIONER_DRIVER: "docker",
      DBPLANE_BACKUP_S3_URL: "https://bucket",
      DBPLANE_KUBE_NAMESPACE: "Not_A_Label",
      DBPLANE_PROVISIONER_ROUTER_PG_PORT: "70000",
      DBPLANE_FAILOVER_DEAD_AFTER_MS: "-1",
    };
    const err = (() => {
      try {
        parseConfig(configSchema, env);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.map((i) => i.variable).sort()).toEqual([
      "DBPLANE_BACKUP_S3_URL",
      "DBPLANE_FAILOVER_DEAD_AFTER_MS",
      "DBPLANE_KUBE_NAMESPACE",
      "DBPLANE_PROVISIONER_DRIVER",
      "DBPLANE_PROVISIONER_ROUTER_PG_PORT",
    ]);
  });

  it("bounds what may be provisioned by default, and takes quotas from the environment", () => {
    expect(quotasOf(parseConfig(configSchema, base))).toEqual({
      maxDatabases: 100,
      maxShards: 32,
      maxReplicas: 3,
      maxStorage: "1Ti",
      storageClasses: undefined,
    });
    const set = parseConfig(configSchema, {
      ...base,
      DBPLANE_QUOTA_MAX_DATABASES: "5",
      DBPLANE_QUOTA_MAX_SHARDS: "4",
      DBPLANE_QUOTA_MAX_REPLICAS: "0",
      DBPLANE_QUOTA_MAX_STORAGE: "500Gi",
      DBPLANE_QUOTA_STORAGE_CLASSES: "fast-ssd, standard",
    });
    expect(quotasOf(set)).toEqual({
      maxDatabases: 5,
      maxShards: 4,
      maxReplicas: 0,
      maxStorage: "500Gi",
      storageClasses: ["fast-ssd", "standard"],
    });
  });

  it("refuses quotas that make no sense, naming each variable", () => {
    const env = {
      ...base,
      DBPLANE_QUOTA_MAX_DATABASES: "0",
      DBPLANE_QUOTA_MAX_SHARDS: "65",
      DBPLANE_QUOTA_MAX_REPLICAS: "-1",
      DBPLANE_QUOTA_MAX_STORAGE: "lots",
      DBPLANE_QUOTA_STORAGE_CLASSES: "Fast_SSD",
    };
    const err = (() => {
      try {
        parseConfig(configSchema, env);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.map((i) => i.variable).sort()).toEqual([
      "DBPLANE_QUOTA_MAX_DATABASES",
      "DBPLANE_QUOTA_MAX_REPLICAS",
      "DBPLANE_QUOTA_MAX_SHARDS",
      "DBPLANE_QUOTA_MAX_STORAGE",
      "DBPLANE_QUOTA_STORAGE_CLASSES",
    ]);
  });

  it("takes a cert-manager issuer as Issuer/<name> or ClusterIssuer/<name>, and nothing else", () => {
    expect(parseConfig(configSchema, base).DBPLANE_KUBE_SHARD_CA).toBe("dbplane-shard-ca");
    for (const ok of ["Issuer/shards", "ClusterIssuer/letsencrypt.internal"])
      expect(parseConfig(configSchema, { ...base, DBPLANE_KUBE_CERT_MANAGER_ISSUER: ok })).toMatchObject({
        DBPLANE_KUBE_CERT_MANAGER_ISSUER: ok,
      });
    for (const bad of ["shards", "Certificate/x", "ClusterIssuer/", "Issuer/Bad_Name"]) {
      expect(() => parseConfig(configSchema, { ...base, DBPLANE_KUBE_CERT_MANAGER_ISSUER: bad })).toThrow(
        /DBPLANE_KUBE_CERT_MANAGER_ISSUER.*Issuer\/<name> or ClusterIssuer\/<name>/s,
      );
    }
  });
});
