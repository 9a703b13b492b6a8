import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { type HttpClient, httpClient, makeSelfSignedCert, waitFor } from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProvisionerWorld, type ProvisionerWorld } from "../provisioner-world.ts";

// One real PostgreSQL server (1 shard, 1 replica) made by the local driver.
let world: ProvisionerWorld;
let api: HttpClient;

beforeAll(async () => {
  world = await createProvisionerWorld();
  const replica = await world.startReplica({});
  api = httpClient(replica.base, world.token());
}, 60_000);
afterAll(() => world?.dispose(), 120_000);

interface Endpoint {
  readonly primary: { port: number };
  readonly readReplicas: { port: number }[];
  readonly passwordRef: { path: string };
}

async function sslOfOwnSession(port: number, password: string, ssl: pg.ClientConfig["ssl"]) {
  const client = new pg.Client({
    host: "127.0.0.1",
    port,
    user: "dbplane",
    password,
    database: "tlsdb",
    ssl,
  });
  await client.connect();
  try {
    const { rows } = await client.query<{ ssl: boolean; version: string }>(
      "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    );
    return rows[0];
  } finally {
    await client.end();
  }
}

describe("local driver: shard servers serve TLS with certificates from a local CA", () => {
  let shard: Endpoint;
  let password: string;
  const caPath = () => join(world.dataDir, "tls", "ca.crt");

  it("creates the CA under the data directory and a 0600 server key owned by the server", async () => {
    const created = await api.call("POST", "/v1/databases", {
      name: "tlsdb",
      shards: 1,
      replicasPerShard: 1,
      postgresVersion: 15,
      storage: { size: "1Gi" },
      resources: { memory: "128Mi" },
    });
    expect(created.status).toBe(202);
    const op = await waitFor(
      async () => {
        const r = await api.call("GET", `/v1/operations/${created.body.operationId as string}`);
        return r.body.state !== "pending" && r.body;
      },
      { timeoutMs: 180_000, intervalMs: 250, what: "the create to settle" },
    );
    expect(op).toMatchObject({ state: "succeeded" });
    shard = (await api.call("GET", "/v1/databases/tlsdb")).body.shards[0] as Endpoint;
    password = (await readFile(shard.passwordRef.path, "utf8")).trim();
    expect((await stat(join(world.dataDir, "tls", "ca.key"))).mode & 0o777).toBe(0o600);
    const key = await stat(join(world.dataDir, "clusters", "tlsdb", "shard-0", "primary", "server.key"));
    expect(key.mode & 0o777).toBe(0o600);
  });

  it("a verify-full client (the CA, the server's name checked) gets a TLS session on primary and replica", async () => {
    const ca = await readFile(caPath(), "utf8");
    for (const port of [shard.primary.port, shard.readReplicas[0]!.port]) {
      const session = await sslOfOwnSession(port, password, { ca, rejectUnauthorized: true });
      expect(session?.ssl).toBe(true);
      expect(session?.version).toMatch(/^TLSv1\.[23]$/);
    }
  });

  it("the replica streams from its primary with verify-full (pg_basebackup -R wrote it)", async () => {
    const auto = await readFile(
      join(world.dataDir, "clusters", "tlsdb", "shard-0", "replica-1", "postgresql.auto.conf"),
      "utf8",
    );
    // Booleans, not the file: primary_conninfo holds the superuser's password.
    const conninfo = /^primary_conninfo = (.*)$/m.exec(auto)?.[1] ?? "";
    expect(conninfo.includes("sslmode=''verify-full''")).toBe(true);
    expect(conninfo.includes(`sslrootcert=''${caPath()}''`)).toBe(true);
    const ca = await readFile(caPath(), "utf8");
    const client = new pg.Client({
      host: "127.0.0.1",
      port: shard.primary.port,
      user: "dbplane",
      password,
      database: "postgres",
      ssl: { ca, rejectUnauthorized: true },
    });
    await client.connect();
    try {
      const rows = await waitFor(async () => {
        const r = await client.query<{ ssl: boolean }>(
          "SELECT s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)",
        );
        return r.rows.length > 0 && r.rows;
      });
      expect(rows).toEqual([{ ssl: true }]);
    } finally {
      await client.end();
    }
  });

  it("a client trusting another CA refuses the server", async () => {
    const other = await makeSelfSignedCert();
    try {
      await expect(
        sslOfOwnSession(shard.primary.port, password, {
          ca: other.cert.toString(),
          rejectUnauthorized: true,
        }),
      ).rejects.toThrow(/self.signed|unable to verify|certificate/i);
    } finally {
      await other.remove();
    }
  });
});
