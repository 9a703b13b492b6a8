// `pnpm bench router`: point selects by key through a router process vs a direct `pg` pool to
// the same shard, same machine, same concurrency, same pool size, one run. The ratio is the
// cost of the router hop: HTTP + JSON, auth, key hashing, routing, accounting. A third path, a
// bare fastify + pg pass-through (naive-proxy.ts), shows how much of that cost is the HTTP hop
// itself on this machine and how much is the router's own work. The three take turns of
// BENCH_HTTP_SLICE seconds (default 1) rather than running one after the other, and the table
// gives each hop process's own CPU per request, less noisy than req/s on a shared machine.
//
// The wire section (wire-section.ts) runs pgbench against the same shard directly, through
// PgBouncer and through the router's PostgreSQL wire endpoint. BENCH_ONLY=http|wire runs one;
// BENCH_WIRE_TARGETS (comma-separated target names, e.g. `direct,pgbouncer,pgbouncer session,router
// 1 shard`) measures only those wire targets, in that order, BENCH_WIRE_MODES (e.g. `prepared`) only
// those modes. BENCH_ROUTER_BASE_ENTRY (another checkout's services/router/src/main.ts) adds that
// router's targets as "base router 1 shard" etc. (router-process.ts), and a "base router" side to the HTTP section.
// BENCH_RELAY_VARIANTS (comma-separated, of RELAY_VARIANTS in wire-section.ts: busy, polluted,
// worker, worker-busy, worker-polluted, onread, pipe, nagle, semi) adds Node relays built otherwise
// as targets "node relay <variant>" (node-relay.ts), with figures node_relay_<variant>_vs_pgbouncer:
// the ceiling of a Node hop here.
// BENCH_WIRE_ROUNDS (default 1) measures the wire targets that many times, in turns, a table each.
// BENCH_NAIVE_NODE_OPTIONS is the naive hop's NODE_OPTIONS (BENCH_ROUTER_NODE_OPTIONS the router's):
// with --cpu-prof in both, one run profiles both sides of the HTTP section.

import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { Agent, request } from "node:http";
import { connect } from "node:net";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { databaseReady } from "@dbplane/contracts";
import { signToken } from "@dbplane/service-kit";
import { createTestDatabase, freePort, startChildService, testServerUrls, waitFor } from "@dbplane/testkit";
import pg from "pg";
import { initPgbench } from "./pgbench.ts";
import { ensurePgbouncer, startPgbouncer } from "./pgbouncer.ts";
import { processCpuMs } from "./process-cpu.ts";
import { startBenchRouter } from "./router-process.ts";
import {
  DIRECT,
  measureWire,
  NODE_RELAY,
  PGBOUNCER,
  PGBOUNCER_SESSION,
  RELAY_VARIANTS,
  relayVariantFigures,
  WIRE_MODES,
  wireFigures,
  wireTable,
} from "./wire-section.ts";
import { setUpWireDatabases, type WireTarget } from "./wire-targets.ts";

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const POOL_SIZE = Number(process.env.BENCH_POOL_SIZE ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
/** The HTTP sides take turns of this many seconds (BENCH_HTTP_SLICE). */
const HTTP_SLICE = Number(process.env.BENCH_HTTP_SLICE ?? 1);
const ROWS = 10_000;
const SECRET = "bench-router-secret-that-is-long-enough-0123456789";
const DB = "bench";
const ONLY = process.env.BENCH_ONLY;
const WIRE = {
  seconds: Number(process.env.BENCH_WIRE_SECONDS ?? 20),
  clients: Number(process.env.BENCH_WIRE_CLIENTS ?? 16),
  threads: Number(process.env.BENCH_WIRE_THREADS ?? 2),
};
const WIRE_TARGETS = process.env.BENCH_WIRE_TARGETS?.split(",").map((name) => name.trim());
const WIRE_MODES_ONLY = process.env.BENCH_WIRE_MODES?.split(",").map((mode) => mode.trim());
const PGBENCH_SCALE = Number(process.env.BENCH_PGBENCH_SCALE ?? 10);
const BASE_ENTRY = process.env.BENCH_ROUTER_BASE_ENTRY;
const RELAY_VARIANT_NAMES = process.env.BENCH_RELAY_VARIANTS?.split(",").map((name) => name.trim()) ?? [];
const WIRE_ROUNDS = Number(process.env.BENCH_WIRE_ROUNDS ?? 1);

const shard = await createTestDatabase("bench_shard");
const dir = await mkdtemp(join(tmpdir(), "bench-router-"));
const passwordFile = join(dir, "password");
await writeFile(passwordFile, "unused-with-trust-auth\n", { mode: 0o600 });
await chmod(passwordFile, 0o600);

const direct = new pg.Pool({ connectionString: shard.url, max: POOL_SIZE });
direct.on("error", (err) => process.stderr.write(`idle direct connection failed: ${err.message}\n`));
await direct.query("CREATE TABLE items (id bigint PRIMARY KEY, note text NOT NULL)");
await direct.query("INSERT INTO items SELECT g, 'note ' || g FROM generate_series(1, $1) g", [ROWS]);
await direct.query("ANALYZE items");

// Plays the provisioner towards it: the router takes database.ready from \`bus\` only.
const ours = await startBenchRouter(new URL("../../services/router/src/main.ts", import.meta.url).pathname, {
  dataDir: dir,
  poolSize: POOL_SIZE,
  jwtSecret: SECRET,
});
const { service: router, bus, port, wirePort } = ours;
const serverPort = Number(new URL(testServerUrls().postgres).port || 5432);
/** Plays the provisioner towards a router: the bench database, one shard, ready. */
async function announceBench(to: typeof bus): Promise<void> {
  await to.publish(
    databaseReady,
    {
      name: DB,
      version: 1,
      postgresVersion: 15,
      shards: [
        {
          shard: 0,
          primary: { host: "127.0.0.1", port: serverPort },
          replicas: [],
          dbname: shard.name,
          user: "postgres",
          passwordRef: { kind: "file", path: passwordFile },
        },
      ],
    },
    { subject: DB },
  );
}
await announceBench(bus);
// BENCH_ROUTER_BASE_ENTRY: the router before a change, a fourth side of the HTTP section.
const base =
  BASE_ENTRY === undefined
    ? undefined
    : await startBenchRouter(BASE_ENTRY, { dataDir: dir, poolSize: POOL_SIZE, jwtSecret: SECRET });
if (base) await announceBench(base.bus);
const naivePort = await freePort();
const naive = await startChildService({
  entry: new URL("./naive-proxy.ts", import.meta.url).pathname,
  env: {
    PORT: String(naivePort),
    SHARD_URL: shard.url,
    POOL_SIZE: String(POOL_SIZE),
    ...(process.env.BENCH_NAIVE_NODE_OPTIONS && { NODE_OPTIONS: process.env.BENCH_NAIVE_NODE_OPTIONS }),
  },
  readyUrl: `http://127.0.0.1:${naivePort}/health/ready`,
});
const token = await signToken(SECRET, { sub: "bench", scopes: ["admin"] });
const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function post(path: string, body: string, toPort = port): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: toPort,
        path,
        method: "POST",
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const SQL = "SELECT id, note FROM items WHERE id = $1";
const viaRouterOn = (toPort: number) => async (id: number) => {
  const res = await post(
    `/v1/databases/${DB}/query`,
    JSON.stringify({ sql: SQL, params: [id], key: { type: "bigint", value: id } }),
    toPort,
  );
  if (res.status !== 200) throw new Error(`router answered ${res.status}: ${res.text}`);
  const rows = (JSON.parse(res.text) as { rows: unknown[] }).rows;
  if (rows.length !== 1) throw new Error("row missing");
};
const viaRouter = viaRouterOn(port);
const viaBase = base && viaRouterOn(base.port);
const viaNaive = async (id: number) => {
  const res = await post(`/v1/databases/${DB}/query`, JSON.stringify({ sql: SQL, params: [id] }), naivePort);
  if (res.status !== 200) throw new Error(`naive proxy answered ${res.status}: ${res.text}`);
  if ((JSON.parse(res.text) as { rows: unknown[] }).rows.length !== 1) throw new Error("row missing");
};
const viaDirect = async (id: number) => {
  const res = await direct.query({ text: SQL, values: [id] });
  if (res.rows.length !== 1) throw new Error("row missing");
};

await waitFor(
  async () => {
    try {
      await viaRouter(1);
      await viaBase?.(1);
      return true;
    } catch {
      return false;
    }
  },
  { what: "router to route the bench database", timeoutMs: 15_000 },
);

interface Sample {
  readonly latencies: number[];
  elapsedMs: number;
  /** CPU (user + system) of the side's own process during its slices, ms; NaN for direct. */
  cpuMs: number;
}

/** `concurrency` loops for `seconds`, their latencies added to `into`. */
async function measureInto(
  into: Sample,
  one: (id: number) => Promise<void>,
  seconds: number,
  concurrency = CONCURRENCY,
  pid?: number,
): Promise<void> {
  const cpuBefore = pid === undefined ? Number.NaN : await processCpuMs(pid);
  const started = performance.now();
  const end = started + seconds * 1000;
  let n = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const id = ((n++ * 7919) % ROWS) + 1;
        const t = performance.now();
        await one(id);
        into.latencies.push(performance.now() - t);
      }
    }),
  );
  into.elapsedMs += performance.now() - started;
  if (pid !== undefined) into.cpuMs += (await processCpuMs(pid)) - cpuBefore;
}

/** Throughput, latency percentiles and the process's CPU µs per request of a sample. */
function summary(s: Sample) {
  const latencies = [...s.latencies].sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!;
  const count = latencies.length;
  return {
    rps: count / (s.elapsedMs / 1000),
    p50: pct(0.5),
    p99: pct(0.99),
    count,
    cpuUs: (s.cpuMs * 1000) / count,
  };
}

interface Side {
  readonly name: string;
  readonly one: (id: number) => Promise<void>;
  readonly pid?: number | undefined;
}

/**
 * Every side for `seconds` in all, in turns of `slice` seconds (A B C, C B A, A B C, …):
 * on a shared machine a burst of someone else's load then lands on every side, not on whichever
 * one ran at that moment (as bench/bus does with BENCH_SLICE).
 */
async function interleaved(
  sides: readonly Side[],
  seconds: number,
  slice: number,
  concurrency = CONCURRENCY,
) {
  const samples = sides.map(
    (side) => ({ latencies: [], elapsedMs: 0, cpuMs: side.pid === undefined ? Number.NaN : 0 }) as Sample,
  );
  const rounds = Math.max(1, Math.round(seconds / slice));
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < sides.length; k++) {
      const i = round % 2 === 0 ? k : sides.length - 1 - k;
      const side = sides[i]!;
      await measureInto(samples[i]!, side.one, seconds / rounds, concurrency, side.pid);
    }
  }
  return samples.map(summary);
}

/** The router's prepared statement counts (`dbplane_router_http_prepared_statements_total`), as text. */
async function preparedCounts(routerPort: number): Promise<string | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${routerPort}/metrics`)).text();
  const counts = [
    ...text.matchAll(/^dbplane_router_http_prepared_statements_total\{outcome="(\w+)"\} (\d+)$/gm),
  ];
  return counts.length === 0 ? undefined : counts.map(([, outcome, n]) => `${outcome} ${n}`).join(", ");
}

/** The HTTP section: returns its table and figure lines. */
async function httpSection(): Promise<string> {
  const sides: Side[] = [
    { name: "direct", one: viaDirect },
    { name: "naive hop", one: viaNaive, pid: naive.process.pid },
    { name: "router", one: viaRouter, pid: router.process.pid },
    ...(base && viaBase ? [{ name: "base router", one: viaBase, pid: base.service.process.pid }] : []),
  ];
  // Warm every path (connections, JIT), unmeasured.
  await interleaved(sides, 3, 1);
  const [d, nv, r, b] = await interleaved(sides, SECONDS, HTTP_SLICE);
  // One request at a time: the hop's own latency, without queueing for a shared CPU.
  const [d1, r1] = await interleaved(
    [sides[0]!, sides[2]!],
    Math.min(SECONDS, 2),
    Math.min(HTTP_SLICE, 1),
    1,
  );

  const prepared = await preparedCounts(port);
  const fmt = (x: number, digits = 2) => x.toFixed(digits).padStart(10);
  const line = (name: string, s: ReturnType<typeof summary>) =>
    `${name.padEnd(12)}${fmt(s.rps, 0)}${fmt(s.p50, 3)}${fmt(s.p99, 3)}${String(s.count).padStart(10)}${(Number.isNaN(s.cpuUs) ? "-" : s.cpuUs.toFixed(0)).padStart(12)}`;
  return [
    `point select by key, concurrency ${CONCURRENCY}, pool ${POOL_SIZE} per side, ${SECONDS} s each in turns of ${HTTP_SLICE} s`,
    `${"path".padEnd(12)}${"req/s".padStart(10)}${"p50 ms".padStart(10)}${"p99 ms".padStart(10)}${"count".padStart(10)}${"cpu µs/req".padStart(12)}`,
    line("direct", d!),
    line("router", r!),
    line("naive hop", nv!),
    ...(b ? [line("base router", b)] : []),
    line("direct c=1", d1!),
    line("router c=1", r1!),
    `cpu µs/req: the hop process's own CPU (user + system) per request (machine: ${availableParallelism()} CPUs, shared by client, hops and PostgreSQL)`,
    `router statements as server-side prepared statements (DBPLANE_ROUTER_HTTP_PREPARE_AFTER): ${prepared ?? "not reported"}; the naive hop and direct parse every statement`,
    "",
    `figure throughput_ratio ${(r!.rps / d!.rps).toFixed(3)}`,
    `figure p50_overhead_ms ${(r!.p50 - d!.p50).toFixed(3)}`,
    `figure p99_overhead_ms ${(r!.p99 - d!.p99).toFixed(3)}`,
    `figure naive_hop_throughput_ratio ${(nv!.rps / d!.rps).toFixed(3)}`,
    `figure router_vs_naive_hop ${(r!.rps / nv!.rps).toFixed(3)}`,
    `figure router_cpu_us_per_request ${r!.cpuUs.toFixed(0)}`,
    `figure naive_hop_cpu_us_per_request ${nv!.cpuUs.toFixed(0)}`,
    ...(b
      ? [
          `base router (BENCH_ROUTER_BASE_ENTRY): router/base req/s ${(r!.rps / b.rps).toFixed(3)}, base_vs_naive_hop ${(b.rps / nv!.rps).toFixed(3)}`,
        ]
      : []),
    "",
  ].join("\n");
}

/** True when something accepts TCP connections on `port` (the router's wire endpoint is on). */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** The wire section: pgbench against the shard, PgBouncer and (when it listens) the router. */
async function wireSection(): Promise<string> {
  await ensurePgbouncer();
  await initPgbench(shard.url, PGBENCH_SCALE);
  const bouncer = await startPgbouncer({
    serverHost: "127.0.0.1",
    serverPort,
    database: shard.name,
    poolSize: POOL_SIZE,
  });
  let routerNote = "";
  /** A node-relay.ts process (env: its variant's), as a prepared-mode target. */
  const startRelay = async (name: string, env: Readonly<Record<string, string>>): Promise<WireTarget> => {
    const relayPort = await freePort();
    const relay = await startChildService({
      entry: new URL("./node-relay.ts", import.meta.url).pathname,
      env: {
        PORT: String(relayPort),
        SERVER_PORT: String(serverPort),
        PG_URL: shard.url,
        NATS_URL: testServerUrls().nats,
        ...env,
      },
    });
    wireCleanups.push(async () => {
      relay.kill("SIGTERM");
      await relay.exited;
    });
    await waitFor(() => listening(relayPort), {
      what: `the Node relay (${name}) to listen`,
      timeoutMs: 10_000,
    });
    const relayUrl = new URL(shard.url);
    relayUrl.host = `127.0.0.1:${relayPort}`;
    return { name, url: relayUrl.toString(), modes: ["prepared"], pid: relay.process.pid };
  };
  const targets: WireTarget[] = [
    { name: DIRECT, url: shard.url },
    { name: PGBOUNCER, url: bouncer.url, modes: ["simple", "extended"], pid: bouncer.pid },
    { name: PGBOUNCER_SESSION, url: bouncer.sessionUrl, modes: ["prepared"], pid: bouncer.pid },
    await startRelay(NODE_RELAY, {}),
  ];
  for (const variant of RELAY_VARIANT_NAMES) {
    const env = RELAY_VARIANTS[variant];
    if (env === undefined)
      throw new Error(
        `BENCH_RELAY_VARIANTS: no variant ${variant} (${Object.keys(RELAY_VARIANTS).join(", ")})`,
      );
    targets.push(await startRelay(`node relay ${variant}`, env));
  }
  let routerDbs: Awaited<ReturnType<typeof setUpWireDatabases>> | undefined;
  try {
    if (!(await listening(wirePort)))
      throw new Error(`nothing listens on DBPLANE_ROUTER_PG_PORT ${wirePort}`);
    routerDbs = await setUpWireDatabases({
      bus,
      wirePort,
      oneShard: shard,
      scale: PGBENCH_SCALE,
      dataDir: dir,
    });
    targets.push(
      ...routerDbs.targets.map((t) => ({
        ...t,
        pid: router.process.pid,
        metricsUrl: `http://127.0.0.1:${port}/metrics`,
      })),
    );
    routerNote = routerDbs.skipped.map((why) => `router target skipped: ${why}\n`).join("");
    if (base) {
      const baseDbs = await setUpWireDatabases({
        bus: base.bus,
        wirePort: base.wirePort,
        oneShard: shard,
        scale: PGBENCH_SCALE,
        dataDir: dir,
      });
      wireCleanups.push(() => baseDbs.cleanup());
      targets.push(
        ...baseDbs.targets.map((t) => ({
          ...t,
          name: `base ${t.name}`,
          pid: base.service.process.pid,
          metricsUrl: `http://127.0.0.1:${base.port}/metrics`,
        })),
      );
      routerNote += baseDbs.skipped.map((why) => `base router target skipped: ${why}\n`).join("");
    }
  } catch (err) {
    // The baselines still count: report why the router rows are missing and measure the rest.
    const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : "";
    routerNote = `router rows skipped: ${(err as Error).message}${cause}\n`;
  }
  try {
    const measured = (
      WIRE_TARGETS ? WIRE_TARGETS.flatMap((name) => targets.filter((t) => t.name === name)) : targets
    ).map((t) =>
      WIRE_MODES_ONLY
        ? { ...t, modes: (t.modes ?? WIRE_MODES).filter((m) => WIRE_MODES_ONLY.includes(m)) }
        : t,
    );
    const out = [
      `${bouncer.version}, transaction mode (and a session-mode pool for -M prepared), default_pool_size ${POOL_SIZE}; router wire pool ${POOL_SIZE}; scale ${PGBENCH_SCALE}`,
      routerNote,
    ];
    for (let round = 1; round <= WIRE_ROUNDS; round++) {
      const rows = await measureWire(measured, WIRE);
      const figures = [...wireFigures(rows), ...relayVariantFigures(rows)];
      const text = [
        ...(WIRE_ROUNDS > 1
          ? [
              `round ${round} of ${WIRE_ROUNDS}, load at its end ${(await readFile("/proc/loadavg", "utf8")).trim()}`,
            ]
          : []),
        wireTable(rows, WIRE),
        "",
        ...figures,
        "",
      ].join("\n");
      // Each round as it ends: a long run shows its figures before the last one.
      if (WIRE_ROUNDS > 1) process.stderr.write(`${text}\n`);
      out.push(text);
    }
    return out.join("\n");
  } finally {
    await bouncer.stop();
    wireCleanups.push(async () => routerDbs?.cleanup());
  }
}

const wireCleanups: (() => Promise<void>)[] = [];
if (ONLY !== "wire") process.stdout.write(await httpSection());
if (ONLY !== "http") process.stdout.write(await wireSection());

agent.destroy();
await base?.stop();
naive.kill("SIGTERM");
await Promise.all([ours.stop(), naive.exited]);
for (const cleanup of wireCleanups) await cleanup();
await direct.end();
await shard.drop();
await rm(dir, { recursive: true, force: true });
