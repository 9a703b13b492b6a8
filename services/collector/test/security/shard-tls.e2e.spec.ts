// Issue 16, item 8 (review finding 10): with DBPLANE_SHARD_TLS_CA the collector reaches the
// servers the provisioner announces with verify-full — over TLS, and never a server whose
// certificate another CA issued.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Bus, connectBus } from "@dbplane/bus";
import { shardReady } from "@dbplane/contracts";
import { createLogger } from "@dbplane/service-kit";
import {
  createPostgresServer,
  makeTestCa,
  type PostgresServer,
  type TestCa,
  waitFor,
} from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CollectorWorld, createCollectorWorld } from "../collector-world.ts";

let world: CollectorWorld;
let bus: Bus;
let base: string;
let trusted: TestCa;
let other: TestCa;
/** Shard 0: a certificate from the configured CA. Shard 1: one from another CA. */
let servers: PostgresServer[] = [];

beforeAll(async () => {
  [trusted, other] = await Promise.all([makeTestCa(), makeTestCa()]);
  servers = await Promise.all([
    createPostgresServer({ walLevel: "replica", tls: await trusted.issue("shard-0") }),
    createPostgresServer({ walLevel: "replica", tls: await other.issue("shard-1") }),
  ]);
  world = await createCollectorWorld({
    DBPLANE_COLLECTOR_INTERVAL_MS: "500",
    DBPLANE_SHARD_TLS_CA: trusted.certPath,
  });
  bus = await connectBus({
    servers: world.nats.url,
    name: "provisioner",
    logger: createLogger({ name: "collector-tls-test", level: "silent" }),
    namespace: world.nats.namespace,
  });
  await bus.ensureTopology();
  base = (await world.startReplica()).base;
  // The servers trust local logins; the file only has to be a reference the collector accepts.
  const passwordFile = join(world.dir, "password");
  await writeFile(passwordFile, "unused\n", { mode: 0o600 });
  for (const [shard, server] of servers.entries()) {
    await bus.publish(
      shardReady,
      {
        database: "tlsdb",
        shard,
        primary: { host: "127.0.0.1", port: server.port },
        replicas: [],
        dbname: "postgres",
        user: "postgres",
        passwordRef: { kind: "file", path: passwordFile },
      },
      { subject: `database/tlsdb/shard/${shard}` },
    );
  }
}, 120_000);
afterAll(async () => {
  await bus?.close();
  await world?.dispose();
  await Promise.all(servers.map((s) => s.stop()));
  await Promise.all([trusted?.remove(), other?.remove()]);
});

interface TargetView {
  id: string;
  health?: { state: string; reason: string } | null;
}

const healthOf = async (port: number) => {
  const body = (await (await fetch(`${base}/v1/targets`)).json()) as { items: TargetView[] };
  return body.items.find((t) => t.id === `shard:tlsdb:${port === servers[0]!.port ? 0 : 1}:127.0.0.1:${port}`)
    ?.health;
};

describe("collector to provisioned shards with a CA configured (verify-full)", () => {
  it("collects the server whose certificate the CA issued, over TLS", async () => {
    const health = await waitFor(async () => {
      const h = await healthOf(servers[0]!.port);
      return h?.state === "up" || h?.state === "degraded" ? h : undefined;
    });
    expect(health.state).toMatch(/^(up|degraded)$/);
    const admin = new pg.Client({ connectionString: servers[0]!.url });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ ssl: boolean }>(
        `SELECT s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
          WHERE a.application_name = 'dbplane-collector'`,
      );
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((r) => r.ssl)).toBe(true);
    } finally {
      await admin.end();
    }
  });

  it("reports the server with another CA's certificate down, naming the certificate", async () => {
    const health = await waitFor(async () => {
      const h = await healthOf(servers[1]!.port);
      return h?.state === "down" ? h : undefined;
    });
    expect(health.reason).toMatch(/self.signed|unable to verify|certificate/i);
  });
});
