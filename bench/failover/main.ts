// `pnpm bench failover [async|sync] [runs]`: a steady keyed write load through the router on a
// 1-shard local database with one replica, `kill -9` of the shard primary's postmaster, and:
//   failover_write_gap_ms       — the longest time no write was acknowledged, from the kill to the
//                                 first write acknowledged by the new primary (goal ≤ 5,000 ms);
//   failover_lost_acknowledged  — writes the client saw acknowledged that are missing afterwards
//                                 (0 in synchronous mode: `synchronous: {replicas: 1}`).
// Beside them, where the gap goes: kill → shard.failed-over seen on the bus (probe + grace +
// promotion), and that event → first acknowledged write (the router following database.ready).
// Real provisioner and router processes (local driver, PostgreSQL 15); the provisioner's failover
// settings come from BENCH_FAILOVER_AFTER_MS / BENCH_FAILOVER_DEAD_AFTER_MS /
// BENCH_FAILOVER_PROBE_MS (defaults: the service's).
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestRedis, createTestSchema, httpClient, serviceWorld, waitFor } from "@dbplane/testkit";

const mode = process.argv[2] ?? "both";
const runs = Number(process.argv[3] ?? 1);
const WRITERS = 4;
const AFTER_MS = process.env.BENCH_FAILOVER_AFTER_MS ?? "5000";
const PROBE_MS = process.env.BENCH_FAILOVER_PROBE_MS ?? "1000";
// Set to BENCH_FAILOVER_AFTER_MS to see the full grace even for a dead primary (the old behaviour).
const DEAD_AFTER_MS = process.env.BENCH_FAILOVER_DEAD_AFTER_MS ?? "0";

interface RunFigures {
  readonly synchronous: boolean;
  readonly gapMs: number;
  readonly detectMs: number;
  readonly followMs: number;
  readonly acked: number;
  readonly lost: number;
}

async function once(synchronous: boolean): Promise<RunFigures> {
  const dataDir = await mkdtemp(join(tmpdir(), "bench-failover-"));
  await chmod(dataDir, 0o711);
  const routerSchema = await createTestSchema("bench_failover_router");
  const redis = await createTestRedis();
  const routers = await serviceWorld({
    entry: join(import.meta.dirname, "../../services/router/src/main.ts"),
    name: "router",
    jwtSecret: "bench-failover-router-secret-0123456789abcdef",
    env: {
      DBPLANE_LOG_LEVEL: "warn",
      DBPLANE_PG_URL: routerSchema.url,
      DBPLANE_REDIS_URL: redis.url,
      DBPLANE_ROUTER_SCHEMA: routerSchema.name,
      DBPLANE_ROUTER_REDIS_PREFIX: redis.prefix,
      DBPLANE_ROUTER_CONNECT_TIMEOUT_MS: "2000",
      DBPLANE_ROUTER_PG_PORT: "0",
      // The router reads password files only inside the provisioner's data directory.
      DBPLANE_DATA_DIR: dataDir,
    },
  });
  routers.defer(() => Promise.all([routerSchema.drop(), redis.cleanup()]));
  const provSchema = await createTestSchema("bench_failover_prov");
  const provisioners = await serviceWorld({
    entry: join(import.meta.dirname, "../../services/provisioner/src/main.ts"),
    name: "provisioner",
    jwtSecret: "bench-failover-prov-secret-0123456789abcdef",
    env: {
      DBPLANE_PG_URL: provSchema.url,
      DBPLANE_PROVISIONER_SCHEMA: provSchema.name,
      DBPLANE_DATA_DIR: dataDir,
      DBPLANE_RECONCILE_INTERVAL_MS: "200",
      DBPLANE_FAILOVER_AFTER_MS: AFTER_MS,
      DBPLANE_FAILOVER_PROBE_MS: PROBE_MS,
      DBPLANE_FAILOVER_DEAD_AFTER_MS: DEAD_AFTER_MS,
      DBPLANE_LOG_LEVEL: "warn",
      DBPLANE_NATS_NAMESPACE: routers.nats.namespace,
    },
  });
  provisioners.defer(() => provSchema.drop());
  const DB = "benchfo";
  const provisioner = httpClient((await provisioners.startReplica()).base, provisioners.token());
  const router = httpClient((await routers.startReplica()).base, routers.token());
  const stopWriters = { now: false };
  try {
    const created = await provisioner.call("POST", "/v1/databases", {
      name: DB,
      shards: 1,
      replicasPerShard: 1,
      ...(synchronous && { synchronous: { replicas: 1 } }),
      postgresVersion: 15,
      storage: { size: "1Gi" },
      shardedTables: [{ table: "orders", keyColumn: "id", keyType: "bigint" }],
    });
    if (created.status !== 202)
      throw new Error(`create: ${created.status} ${provisioners.output().slice(-3000)}`);
    await waitFor(async () => (await router.call("GET", `/v1/databases/${DB}/shards`)).status === 200, {
      what: "the database in the router's map",
      timeoutMs: 120_000,
      intervalMs: 100,
    });
    const migration = await router.call("POST", `/v1/databases/${DB}/migrations`, {
      id: "001-orders",
      statements: ["CREATE TABLE orders (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())"],
    });
    if (migration.status !== 200) throw new Error(`migration: ${migration.status}`);

    const acked: number[] = [];
    const ackTimes: number[] = [];
    let next = 1;
    const writer = async () => {
      while (!stopWriters.now) {
        const id = next++;
        const res = await router
          .call("POST", `/v1/databases/${DB}/query`, {
            sql: "INSERT INTO orders (id) VALUES ($1)",
            params: [id],
            key: { type: "bigint", value: id },
          })
          .catch(() => ({ status: 0 }));
        if (res.status === 200) {
          acked.push(id);
          ackTimes.push(performance.now());
        } else await new Promise((r) => setTimeout(r, 20));
      }
    };
    const writers = Array.from({ length: WRITERS }, writer);
    await waitFor(() => acked.length >= 500, { what: "500 writes before the kill", timeoutMs: 60_000 });

    const shardDir = join(dataDir, "clusters", DB, "shard-0");
    const pid = Number((await readFile(join(shardDir, "primary", "postmaster.pid"), "utf8")).split("\n")[0]);
    const killedAt = performance.now();
    process.kill(pid, "SIGKILL");
    const failedOverAt = await waitFor(
      async () =>
        (await routers.events("dbplane.evt.provisioner.shard.failed-over")).length > 0 && performance.now(),
      { what: "shard.failed-over", timeoutMs: 120_000, intervalMs: 20 },
    );
    // The first write acknowledged by the new primary: one acknowledged after the failover.
    const firstAfter = await waitFor(() => ackTimes.find((t) => t > failedOverAt), {
      what: "a write acknowledged after the failover",
      timeoutMs: 60_000,
      intervalMs: 10,
    });
    await new Promise((r) => setTimeout(r, 500));
    stopWriters.now = true;
    await Promise.all(writers);
    // Longest stretch without an acknowledgement between the kill and that first write.
    const points = [killedAt, ...ackTimes.filter((t) => t > killedAt && t <= firstAfter)].sort(
      (a, b) => a - b,
    );
    let gapMs = 0;
    for (let i = 1; i < points.length; i++) gapMs = Math.max(gapMs, points[i]! - points[i - 1]!);
    const found = await router.call("POST", `/v1/databases/${DB}/query`, {
      sql: "SELECT count(*)::int AS n FROM orders WHERE id = ANY($1::bigint[])",
      params: [acked],
    });
    if (found.status !== 200) throw new Error(`count: ${found.status} ${JSON.stringify(found.body)}`);
    return {
      synchronous,
      gapMs,
      detectMs: failedOverAt - killedAt,
      followMs: firstAfter - failedOverAt,
      acked: acked.length,
      lost: acked.length - Number(found.body.rows[0].n),
    };
  } finally {
    stopWriters.now = true;
    const del = await provisioner
      .call("DELETE", `/v1/databases/${DB}?keepVolumes=false`)
      .catch(() => undefined);
    if (del?.status === 202) {
      await waitFor(
        async () =>
          (await provisioner.call("GET", `/v1/operations/${del.body.operationId}`)).body.state !== "pending",
        { what: "the database deleted", timeoutMs: 60_000 },
      ).catch(() => {});
    }
    await provisioners.dispose();
    await routers.dispose();
    await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
  }
}

const modes = mode === "both" ? [false, true] : [mode === "sync"];
const results: RunFigures[] = [];
for (let run = 0; run < runs; run++) for (const sync of modes) results.push(await once(sync));

process.stdout.write(
  `failover: 1 shard + 1 replica, ${WRITERS} keyed writers through the router, kill -9 of the primary ` +
    `(DBPLANE_FAILOVER_AFTER_MS=${AFTER_MS}, DBPLANE_FAILOVER_DEAD_AFTER_MS=${DEAD_AFTER_MS}, ` +
    `DBPLANE_FAILOVER_PROBE_MS=${PROBE_MS})\n`,
);
for (const r of results) {
  process.stdout.write(
    `  ${r.synchronous ? "sync " : "async"}  gap ${r.gapMs.toFixed(0).padStart(6)} ms` +
      `  (kill→failed-over ${r.detectMs.toFixed(0)} ms, failed-over→first write ${r.followMs.toFixed(0)} ms)` +
      `  acked ${r.acked}, lost ${r.lost}\n`,
  );
}
const worst = (rs: RunFigures[], f: (r: RunFigures) => number) => Math.max(...rs.map(f));
process.stdout.write(`figure failover_write_gap_ms ${worst(results, (r) => r.gapMs).toFixed(0)}\n`);
const sync = results.filter((r) => r.synchronous);
if (sync.length > 0)
  process.stdout.write(`figure failover_lost_acknowledged ${worst(sync, (r) => r.lost)}\n`);
