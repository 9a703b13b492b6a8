// `pnpm bench provisioner`: how long the provisioner takes to make databases real.
//   local — a 4-shard database (no replicas) on this machine, from POST to operation succeeded,
//           beside the floor: the same 4 clusters made by hand (initdb + pg_ctl start, in parallel)
//           by this process, so the ratio is the provisioner's overhead;
//   k8s   — a 16-shard database against the Kubernetes API double: objects applied per second,
//           from POST until all 96 objects exist;
//   restore — a physical backup of a 1-shard database (~BENCH_RESTORE_ROWS rows) restored through
//           POST …/restores (base backup + WAL recovery), beside a plain pg_restore of a pg_dump
//           of the same database into the same server, in MB of database per second.
// Sections: `pnpm bench provisioner [local] [k8s] [restore]` (all when none is named).
import { execFile } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { signToken } from "@dbplane/service-kit";
import {
  createTestNats,
  createTestSchema,
  freePort,
  startChildService,
  startKubeApiDouble,
  waitFor,
} from "@dbplane/testkit";

const run = promisify(execFile);
const SECRET = "bench-provisioner-secret-0123456789abcdef";
const entry = join(import.meta.dirname, "../../services/provisioner/src/main.ts");
const BIN = process.env.BENCH_PG_BIN ?? "/usr/lib/postgresql/15/bin";
const MAJOR = Number(process.env.BENCH_PG_MAJOR ?? 15);

async function startProvisioner(env: Record<string, string>) {
  const db = await createTestSchema("benchprov");
  const nats = await createTestNats();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const svc = await startChildService({
    entry,
    readyUrl: `${base}/health/ready`,
    readyTimeoutMs: 30_000,
    env: {
      DBPLANE_HTTP_HOST: "127.0.0.1",
      DBPLANE_HTTP_PORT: String(port),
      DBPLANE_JWT_SECRET: SECRET,
      DBPLANE_NATS_URL: nats.url,
      DBPLANE_NATS_NAMESPACE: nats.namespace,
      DBPLANE_PG_URL: db.url,
      DBPLANE_PROVISIONER_SCHEMA: db.name,
      DBPLANE_SHUTDOWN_DELAY_MS: "0",
      DBPLANE_RECONCILE_INTERVAL_MS: "100",
      DBPLANE_LOG_LEVEL: "warn",
      ...env,
    },
  });
  const token = await signToken(SECRET, { sub: "bench", scopes: ["admin"] });
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return res.json() as Promise<Record<string, unknown>>;
  };
  const settled = (id: unknown) =>
    waitFor(async () => (await call("GET", `/v1/operations/${id}`)).state === "succeeded", {
      timeoutMs: 600_000,
      intervalMs: 20,
    });
  return {
    call,
    settled,
    async stop() {
      await svc.dispose();
      await nats.cleanup();
      await db.drop();
    },
  };
}

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "dbplane-bench-prov-"));
  await chmod(dir, 0o711);
  return dir;
}

/** The floor: 4 clusters by hand, as the postgres user when root, in parallel. */
async function byHand(dir: string): Promise<number> {
  const asUser = process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--"] : [];
  const started = performance.now();
  await Promise.all(
    [0, 1, 2, 3].map(async (i) => {
      const data = join(dir, `c${i}`);
      await run("install", ["-d", "-m", "0700", ...(asUser.length ? ["-o", "postgres"] : []), data]);
      const pw = join(dir, `pw${i}`);
      await writeFile(pw, "bench-password\n", { mode: 0o644 });
      const port = await freePort();
      const sh = async (cmd: string, args: string[]) =>
        asUser.length ? run(asUser[0]!, [...asUser.slice(1), cmd, ...args]) : run(cmd, args);
      await sh(join(BIN, "initdb"), ["-D", data, "-U", "dbplane", `--pwfile=${pw}`, "--auth=scram-sha-256"]);
      await sh(join(BIN, "pg_ctl"), [
        "start",
        "-D",
        data,
        "-w",
        "-s",
        "-l",
        join(data, "server.log"),
        "-o",
        `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c wal_level=logical`,
      ]);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(
    [0, 1, 2, 3].map((i) =>
      (process.getuid?.() === 0
        ? run("runuser", [
            "-u",
            "postgres",
            "--",
            join(BIN, "pg_ctl"),
            "stop",
            "-D",
            join(dir, `c${i}`),
            "-m",
            "immediate",
            "-s",
          ])
        : run(join(BIN, "pg_ctl"), ["stop", "-D", join(dir, `c${i}`), "-m", "immediate", "-s"])
      ).catch(() => {}),
    ),
  );
  return seconds;
}

async function local(): Promise<{ provisioner: number; floor: number }> {
  const dir = await dataDir();
  const p = await startProvisioner({ DBPLANE_DATA_DIR: dir });
  try {
    const started = performance.now();
    const res = await p.call("POST", "/v1/databases", {
      name: "bench4",
      shards: 4,
      postgresVersion: MAJOR,
      storage: { size: "1Gi" },
    });
    await p.settled(res.operationId);
    const provisioner = (performance.now() - started) / 1000;
    const del = await p.call("DELETE", "/v1/databases/bench4?keepVolumes=false");
    await p.settled(del.operationId);
    const floorDir = await dataDir();
    try {
      return { provisioner, floor: await byHand(floorDir) };
    } finally {
      await rm(floorDir, { recursive: true, force: true });
    }
  } finally {
    await p.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function kubernetes(): Promise<{ objects: number; seconds: number }> {
  const kube = await startKubeApiDouble();
  const p = await startProvisioner({
    DBPLANE_PROVISIONER_DRIVER: "kubernetes",
    DBPLANE_KUBECONFIG: kube.kubeConfigPath,
    DBPLANE_RECONCILE_CONCURRENCY: "4",
  });
  try {
    const shards = 16;
    const expected = shards * 6;
    const selector = "app.kubernetes.io/managed-by=dbplane,dbplane.io/database=bench16";
    const count = () =>
      (["StatefulSet", "Service", "Secret", "ConfigMap"] as const).reduce(
        (n, kind) => n + kube.list(kind, { namespace: "default", labelSelector: selector }).length,
        0,
      );
    const started = performance.now();
    await p.call("POST", "/v1/databases", {
      name: "bench16",
      shards,
      replicasPerShard: 1,
      postgresVersion: 17,
      storage: { size: "10Gi" },
    });
    await waitFor(() => count() === expected, { timeoutMs: 120_000, intervalMs: 5 });
    return { objects: expected, seconds: (performance.now() - started) / 1000 };
  } finally {
    await p.stop();
    await kube.close();
  }
}

async function restore(): Promise<{ mb: number; restoreS: number; pgRestoreS: number }> {
  const dir = await dataDir();
  const p = await startProvisioner({ DBPLANE_DATA_DIR: dir });
  const rowsWanted = Number(process.env.BENCH_RESTORE_ROWS ?? 1_000_000);
  try {
    const res = await p.call("POST", "/v1/databases", {
      name: "benchsrc",
      postgresVersion: MAJOR,
      backup: { schedule: { cron: "@yearly" }, retain: { count: 5 } },
    });
    await p.settled(res.operationId);
    const db = (await p.call("GET", "/v1/databases/benchsrc")) as {
      shards: { primary: { port: number }; passwordRef: { path: string } }[];
    };
    const shard = db.shards[0]!;
    const { readFile } = await import("node:fs/promises");
    const env = {
      ...process.env,
      PGPASSWORD: (await readFile(shard.passwordRef.path, "utf8")).trim(),
      PGSSLMODE: "require",
    };
    const conn = ["-h", "127.0.0.1", "-p", String(shard.primary.port), "-U", "dbplane"];
    const psql = (dbname: string, sql: string) =>
      run(join(BIN, "psql"), [...conn, "-d", dbname, "-Atqc", sql], { env, maxBuffer: 1 << 20 });
    await psql(
      "benchsrc",
      `CREATE TABLE items AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS body, now() AS at FROM generate_series(1, ${rowsWanted}) g; CREATE INDEX ON items (id)`,
    );
    const mb =
      Number((await psql("benchsrc", "SELECT pg_database_size('benchsrc')")).stdout.trim()) / 1024 ** 2;
    const backup = await p.call("POST", "/v1/databases/benchsrc/backups", { backupId: "bench" });
    await p.settled(backup.operationId);

    const started = performance.now();
    const restored = await p.call("POST", "/v1/databases/benchsrc/restores", {
      backupId: "bench",
      into: "benchcopy",
    });
    await p.settled(restored.operationId);
    const restoreS = (performance.now() - started) / 1000;

    const dump = join(dir, "bench.dump");
    await run(join(BIN, "pg_dump"), [...conn, "-Fc", "-f", dump, "benchsrc"], { env });
    await psql("postgres", "CREATE DATABASE benchplain");
    const plain = performance.now();
    await run(join(BIN, "pg_restore"), [...conn, "-d", "benchplain", dump], { env });
    const pgRestoreS = (performance.now() - plain) / 1000;
    return { mb, restoreS, pgRestoreS };
  } finally {
    await p.stop();
    const { stopClustersUnder } = await import("./stop-clusters.ts");
    await stopClustersUnder(dir);
    await rm(dir, { recursive: true, force: true });
  }
}

const wanted = process.argv.slice(2);
const runs = (section: string) => wanted.length === 0 || wanted.includes(section);
const rows: [string, string][] = [];
const figures: string[] = [];
if (runs("local")) {
  const l = await local();
  rows.push(
    ["local: 4-shard database ready (provisioner)", `${l.provisioner.toFixed(2)} s`],
    ["local: 4 clusters by hand (initdb + pg_ctl, parallel)", `${l.floor.toFixed(2)} s`],
    ["local: provisioner / by hand", (l.provisioner / l.floor).toFixed(2)],
  );
  figures.push(`local_4_shard_ready_s ${l.provisioner.toFixed(3)}`);
  figures.push(`local_4_shard_vs_by_hand_ratio ${(l.provisioner / l.floor).toFixed(3)}`);
}
if (runs("k8s")) {
  const k = await kubernetes();
  rows.push(
    [`k8s double: ${k.objects} objects applied`, `${k.seconds.toFixed(2)} s`],
    ["k8s double: objects per second", (k.objects / k.seconds).toFixed(0)],
  );
  figures.push(`k8s_objects_per_s ${(k.objects / k.seconds).toFixed(1)}`);
}
if (runs("restore")) {
  const r = await restore();
  rows.push(
    [`restore: ${r.mb.toFixed(0)} MB database, POST …/restores to ready`, `${r.restoreS.toFixed(2)} s`],
    ["restore: plain pg_restore of a pg_dump (same data, same server)", `${r.pgRestoreS.toFixed(2)} s`],
    [
      "restore: MB/s dbplane / pg_restore",
      `${(r.mb / r.restoreS).toFixed(1)} / ${(r.mb / r.pgRestoreS).toFixed(1)}`,
    ],
  );
  figures.push(`restore_mb_per_s ${(r.mb / r.restoreS).toFixed(2)}`);
  figures.push(`pg_restore_mb_per_s ${(r.mb / r.pgRestoreS).toFixed(2)}`);
  figures.push(`restore_vs_pg_restore_ratio ${(r.pgRestoreS / r.restoreS).toFixed(3)}`);
}
const width = Math.max(...rows.map((r) => r[0].length));
for (const [label, value] of rows) process.stdout.write(`${label.padEnd(width)}  ${value}\n`);
for (const figure of figures) process.stdout.write(`figure ${figure}\n`);
process.exit(0);
