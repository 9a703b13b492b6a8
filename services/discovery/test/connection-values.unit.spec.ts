import { describe, expect, it } from "vitest";
import { parseConnectionString, parseHostPort } from "../src/domain/connection-values.ts";
import { isPostgresImage, postgresVersionOf } from "../src/domain/postgres-image.ts";
import { secretHints } from "../src/domain/secret-hints.ts";
import { settingName } from "../src/domain/setting-names.ts";

describe("connection strings: where they point, never who connects", () => {
  it.each([
    ["postgres://app:s3cret@pg.shop:5432/orders", { host: "pg.shop", port: 5432, dbname: "orders" }],
    [
      "postgresql://pg.shop.svc.cluster.local/orders?sslmode=require",
      { host: "pg.shop.svc.cluster.local", dbname: "orders" },
    ],
    ["postgresql+psycopg2://u:p@db:6543/x", { host: "db", port: 6543, dbname: "x" }],
    [
      "jdbc:postgresql://db.example.com:5432/app?user=u&password=p",
      { host: "db.example.com", port: 5432, dbname: "app" },
    ],
    ["postgres://u:p%40ss@h1:5432,h2:5433/db", { host: "h1", port: 5432, dbname: "db" }],
    ["postgres:///db?host=pg&port=5433", { host: "pg", port: 5433, dbname: "db" }],
    ["postgres://u:p@[::1]:5432/db", { host: "[::1]", port: 5432, dbname: "db" }],
    [
      "host=pg.shop port=5433 dbname=orders user=app password='x y'",
      { host: "pg.shop", port: 5433, dbname: "orders" },
    ],
    ["  postgres://PG.Shop/db  ", { host: "pg.shop", dbname: "db" }],
  ])("%s", (value, expected) => {
    expect(parseConnectionString(value)).toEqual(expected);
  });

  it.each([
    ["empty", ""],
    ["not a URL", "hello world"],
    ["mysql", "mysql://u:p@db/x"],
    ["port out of range", "postgres://db:99999/x"],
    ["no host", "postgres:///db"],
    ["bad host", "postgres://u:p@$(DB_HOST)/x"],
    ["bad escape", "postgres://db/%E0%A4%A"],
    ["huge", `postgres://db/${"x".repeat(5000)}`],
  ])("is unknown when %s", (_what, value) => {
    expect(parseConnectionString(value)).toBeUndefined();
  });

  it("never returns the user or password of a URL", () => {
    const hint = parseConnectionString("postgres://alice:TopSecret123@db:5432/x");
    expect(JSON.stringify(hint)).not.toMatch(/alice|TopSecret123/);
  });

  it.each([
    ["pg", { host: "pg" }],
    ["pg.shop:5433", { host: "pg.shop", port: 5433 }],
    ["10.0.0.7", { host: "10.0.0.7" }],
    ["pg:x", undefined],
    ["", undefined],
    ["has space", undefined],
  ])("host value %s", (value, expected) => {
    expect(parseHostPort(value)).toEqual(expected);
  });
});

describe("setting names", () => {
  it.each([
    ["DATABASE_URL", "DATABASE", "url"],
    ["ORDERS_DATABASE_URL", "ORDERS_DATABASE", "url"],
    ["PGHOST", "POSTGRES", "host"],
    ["PGPORT", "POSTGRES", "port"],
    ["PGDATABASE", "POSTGRES", "dbname"],
    ["POSTGRES_HOST", "POSTGRES", "host"],
    ["POSTGRES_DB", "POSTGRES", "dbname"],
    ["POSTGRESQL_HOST", "POSTGRES", "host"],
    ["DB_HOST", "DB", "host"],
    ["DB_NAME", "DB", "dbname"],
    ["BILLING_DB_HOST", "BILLING_DB", "host"],
    ["SPRING_DATASOURCE_URL", "SPRING_DATASOURCE", "url"],
    ["database_url", "DATABASE", "url"],
  ])("%s → group %s, %s", (name, group, part) => {
    expect(settingName(name)).toEqual({ group, part });
  });

  it.each([
    "PGPASSWORD",
    "POSTGRES_PASSWORD",
    "POSTGRES_USER",
    "DB_USER",
    "REDIS_HOST",
    "DB_DB",
    "HOST",
    "DATABASE",
  ])("%s is not a connection setting", (name) => {
    expect(settingName(name)).toBeUndefined();
  });
});

describe("postgres-family images", () => {
  it.each([
    ["postgres:17", true, "17"],
    ["docker.io/library/postgres:16.4-alpine", true, "16.4"],
    ["bitnami/postgresql:16.3.0-debian-12-r0", true, "16.3"],
    ["postgis/postgis:16-3.4", true, "16"],
    ["timescale/timescaledb-ha:pg16.4-ts2.16.1", true, "16.4"],
    ["timescale/timescaledb:2.14.2-pg16", true, "16"],
    ["ghcr.io/cloudnative-pg/postgresql:17.2", true, "17.2"],
    ["supabase/postgres:15.1.0.147", true, "15.1"],
    ["ghcr.io/zalando/spilo-16:3.2-p3", true, "16"],
    ["registry:5000/team/postgres@sha256:abc", true, undefined],
    ["quay.io/prometheuscommunity/postgres-exporter:v0.15.0", false, undefined],
    ["bitnami/pgbouncer:1.22", false, undefined],
    ["dpage/pgadmin4", false, undefined],
    ["nginx:1.27", false, undefined],
  ])("%s", (image, isPostgres, version) => {
    expect(isPostgresImage(image)).toBe(isPostgres);
    if (isPostgres) expect(postgresVersionOf(image)).toBe(version);
  });
});

describe("Secrets reduced to hints", () => {
  const encode = (values: Record<string, string>) =>
    Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
  const decode = (raw: string) => Buffer.from(raw, "base64").toString("utf8");

  it("keeps hosts, ports, database names and URLs' addresses, drops everything else", () => {
    const hints = secretHints(
      encode({
        host: "pg-rw.shop",
        port: "5432",
        dbname: "app",
        user: "app",
        password: "Hunter2-Secret",
        uri: "postgresql://app:Hunter2-Secret@pg-rw.shop:5432/app",
        "some-key": "postgres://x:Hunter2-Secret@other:5432/z",
        token: "abc.def",
      }),
      decode,
    );
    expect(hints).toEqual({
      host: { host: "pg-rw.shop" },
      port: { port: 5432 },
      dbname: { dbname: "app" },
      uri: { host: "pg-rw.shop", port: 5432, dbname: "app" },
      "some-key": { host: "other", port: 5432, dbname: "z" },
    });
    expect(JSON.stringify(hints)).not.toContain("Hunter2");
  });
});
