import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { configIssues, parseConfig } from "@dbplane/service-kit";
import { describe, expect, it } from "vitest";
import { configSchema, resolveDiscoveryConfig } from "../src/config.ts";

const config = (env: Record<string, string>) => resolveDiscoveryConfig(parseConfig(configSchema, env));

const problems = (env: Record<string, string>) => configIssues(configSchema, env).map((i) => i.variable);

describe("discovery config", () => {
  it("runs with no environment at all: local driver on the platform PostgreSQL, port 8080", () => {
    expect(config({})).toMatchObject({
      driver: "local",
      postgresUrls: ["postgres://postgres@127.0.0.1:5432/postgres"],
      DBPLANE_HTTP_PORT: 8080,
      DBPLANE_DISCOVERY_EXCLUDE_NAMESPACES: ["kube-system", "kube-public", "kube-node-lease"],
      DBPLANE_CLUSTER_DOMAIN: "cluster.local",
      DBPLANE_DISCOVERY_LOST_RETENTION_MS: 86_400_000,
    });
    expect(config({ DBPLANE_DISCOVERY_LOST_RETENTION_MS: "0" }).DBPLANE_DISCOVERY_LOST_RETENTION_MS).toBe(0);
  });

  it.each([
    [{ DBPLANE_KUBECONFIG: "/tmp/kubeconfig" }, "kubernetes"],
    [{ KUBERNETES_SERVICE_HOST: "10.0.0.1" }, "kubernetes"],
    [{ KUBERNETES_SERVICE_HOST: "10.0.0.1", DBPLANE_DISCOVERY_DRIVER: "local" }, "local"],
    [{ DBPLANE_DISCOVERY_DRIVER: "kubernetes" }, "kubernetes"],
  ])("picks the driver from %j", (env, driver) => {
    expect(config(env).driver).toBe(driver);
  });

  it("reads namespace and server lists", () => {
    const parsed = config({
      DBPLANE_DISCOVERY_NAMESPACES: "shop, web",
      DBPLANE_DISCOVERY_POSTGRES_URLS: "postgres://a/x,postgresql://u:p@b:5433/y",
    });
    expect(parsed.DBPLANE_DISCOVERY_NAMESPACES).toEqual(["shop", "web"]);
    expect(parsed.postgresUrls).toEqual(["postgres://a/x", "postgresql://u:p@b:5433/y"]);
  });

  it("lists every bad variable at once", () => {
    expect(
      problems({
        DBPLANE_DISCOVERY_DRIVER: "docker",
        DBPLANE_DISCOVERY_NAMESPACES: "Shop",
        DBPLANE_DISCOVERY_POSTGRES_URLS: "mysql://x",
        DBPLANE_JWT_SECRET: "short",
        DBPLANE_CLUSTER_DOMAIN: "-bad",
        DBPLANE_DISCOVERY_LOST_RETENTION_MS: "-1",
      }),
    ).toEqual(
      expect.arrayContaining([
        "DBPLANE_DISCOVERY_DRIVER",
        "DBPLANE_DISCOVERY_NAMESPACES",
        "DBPLANE_DISCOVERY_POSTGRES_URLS",
        "DBPLANE_JWT_SECRET",
        "DBPLANE_CLUSTER_DOMAIN",
        "DBPLANE_DISCOVERY_LOST_RETENTION_MS",
      ]),
    );
  });

  it("exits 78 on bad config without printing a URL's password", () => {
    const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
    const result = spawnSync(process.execPath, [main], {
      env: {
        PATH: process.env.PATH,
        DBPLANE_DISCOVERY_POSTGRES_URLS: "postgres://u:Sekrit-Pass@h/x,ftp://nope",
        DBPLANE_DISCOVERY_DRIVER: "nope",
      },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(result.status).toBe(78);
    expect(result.stderr).toContain("DBPLANE_DISCOVERY_DRIVER");
    expect(result.stderr).toContain("DBPLANE_DISCOVERY_POSTGRES_URLS");
    expect(result.stderr + result.stdout).not.toContain("Sekrit-Pass");
  });
});
