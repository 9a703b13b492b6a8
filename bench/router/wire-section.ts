// The wire section of `pnpm bench router`: pgbench's select-only script with `-M simple` and
// `-M prepared` against the shard directly, PgBouncer in transaction mode in front of it, and the
// router's wire endpoint (1 and 2 shards) when the router has one. Every target gets the same
// clients, threads and duration, one after the other in one run.

import { type PgbenchMode, type PgbenchResult, runPgbench } from "./pgbench.ts";
import { processCpu } from "./process-cpu.ts";
import type { WireTarget } from "./wire-targets.ts";

const WARM_UP_SECONDS = 2;

export const WIRE_MODES = ["simple", "prepared"] as const satisfies readonly PgbenchMode[];

export interface WireMeasurement {
  readonly target: string;
  readonly mode: PgbenchMode;
  readonly result: PgbenchResult;
  /**
   * The pooler's CPU time (user + system) per transaction, µs: what the hop itself costs, less
   * noisy than tps on a shared machine (undefined for the direct target).
   */
  readonly cpuUsPerTx: number | undefined;
  /** The part of it spent in the kernel (system time: socket reads and writes, wake-ups). */
  readonly systemUsPerTx: number | undefined;
  /**
   * The router's wire path counters over the run (client chunks and server replies by path, see
   * the router's README), when it has them: whether the fast paths were taken.
   */
  readonly paths: PathCounts | undefined;
}

/** `dbplane_router_wire_client_chunks_total` and `…_server_replies_total` by path. */
export interface PathCounts {
  readonly chunks: Readonly<Record<string, number>>;
  readonly replies: Readonly<Record<string, number>>;
}

const CHUNKS = "dbplane_router_wire_client_chunks_total";
const REPLIES = "dbplane_router_wire_server_replies_total";

/** The wire path counters of a router's /metrics; undefined when it has none (an older router). */
async function scrapePaths(url: string): Promise<PathCounts | undefined> {
  const text = await (await fetch(url)).text();
  const read = (name: string) => {
    const out: Record<string, number> = {};
    for (const m of text.matchAll(new RegExp(`^${name}\\{path="([a-z_]+)"\\} (\\S+)$`, "gm")))
      out[m[1]!] = Number(m[2]);
    return out;
  };
  const chunks = read(CHUNKS);
  return Object.keys(chunks).length === 0 ? undefined : { chunks, replies: read(REPLIES) };
}

function pathsDelta(before: PathCounts, after: PathCounts): PathCounts {
  const delta = (a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>) =>
    Object.fromEntries(Object.entries(b).map(([path, n]) => [path, n - (a[path] ?? 0)]));
  return { chunks: delta(before.chunks, after.chunks), replies: delta(before.replies, after.replies) };
}

export interface WireOptions {
  readonly seconds: number;
  readonly clients: number;
  readonly threads: number;
}

/** Each target with each mode; a target that fails is reported and skipped, not fatal. */
export async function measureWire(
  targets: readonly WireTarget[],
  o: WireOptions,
): Promise<WireMeasurement[]> {
  const out: WireMeasurement[] = [];
  for (const t of targets) {
    for (const mode of t.modes ?? WIRE_MODES) {
      // Warm the target in the mode about to be timed (server connections, backends' caches,
      // the router's JIT for that mode's path: -M prepared takes another than -M simple), unmeasured.
      await runPgbench({ ...o, seconds: WARM_UP_SECONDS, url: t.url, password: t.password, mode }).catch(
        () => {},
      );
      try {
        const pathsBefore = t.metricsUrl === undefined ? undefined : await scrapePaths(t.metricsUrl);
        const before = t.pid === undefined ? undefined : await processCpu(t.pid);
        const result = await runPgbench({ ...o, url: t.url, password: t.password, mode });
        const after = t.pid === undefined ? undefined : await processCpu(t.pid);
        const pathsAfter = t.metricsUrl === undefined ? undefined : await scrapePaths(t.metricsUrl);
        const perTx = (ms: number) => (Number.isNaN(ms) ? undefined : (ms * 1000) / result.transactions);
        out.push({
          target: t.name,
          mode,
          result,
          cpuUsPerTx: before && after && perTx(after.user + after.system - before.user - before.system),
          systemUsPerTx: before && after && perTx(after.system - before.system),
          paths: pathsBefore && pathsAfter && pathsDelta(pathsBefore, pathsAfter),
        });
      } catch (err) {
        const lines = (err as Error).message.trimEnd().split("\n");
        process.stderr.write(`${t.name} -M ${mode} failed; pgbench said:\n${lines.slice(-4).join("\n")}\n`);
      }
    }
  }
  return out;
}

export function wireTable(rows: readonly WireMeasurement[], o: WireOptions): string {
  const col = (s: string, w = 10) => s.padStart(w);
  const lines = [
    `pgbench -S -c ${o.clients} -j ${o.threads} -T ${o.seconds}, one target at a time`,
    `${"target".padEnd(24)}${"mode".padEnd(10)}${col("tps")}${col("avg ms")}${col("p50 ms")}${col("p99 ms")}${col("failed")}${col("cpu µs/tx", 11)}${col("of it sys", 10)}${col("user", 8)}`,
    ...rows.map(
      (r) =>
        `${r.target.padEnd(24)}${r.mode.padEnd(10)}${col(r.result.tps.toFixed(0))}${col(r.result.latencyAvgMs.toFixed(3))}` +
        `${col(r.result.latencyP50Ms.toFixed(3))}${col(r.result.latencyP99Ms.toFixed(3))}${col(String(r.result.failed))}` +
        col(r.cpuUsPerTx === undefined ? "-" : r.cpuUsPerTx.toFixed(1), 11) +
        col(r.systemUsPerTx === undefined ? "-" : r.systemUsPerTx.toFixed(1)) +
        col(userUs(r)?.toFixed(1) ?? "-", 8),
    ),
  ];
  const withPaths = rows.filter((r) => r.paths !== undefined);
  if (withPaths.length > 0)
    lines.push("router wire paths over each run (share of client chunks; of shard replies):");
  for (const r of withPaths) {
    const shares = (counts: Readonly<Record<string, number>>) => {
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      return Object.entries(counts)
        .map(([path, n]) => `${path} ${total === 0 ? "-" : `${((100 * n) / total).toFixed(1)}%`}`)
        .join(", ");
    };
    lines.push(
      `  ${r.target} -M ${r.mode}: chunks ${shares(r.paths!.chunks)}; replies ${shares(r.paths!.replies)}`,
    );
  }
  return lines.join("\n");
}

/**
 * The issue's figures (router 1 shard vs the baselines) when the router was measured, and the
 * baselines' own ratio always (how far a pooler hop alone costs on this machine). PgBouncer's
 * prepared figure is its session-mode pool's (1.18 cannot run named prepared statements in
 * transaction mode); `wire_vs_pgbouncer_tx_extended` sets the router's prepared run against
 * PgBouncer's transaction mode with unnamed statements (-M extended), the closest it gets.
 */
export function wireFigures(rows: readonly WireMeasurement[]): string[] {
  const row = (target: string, mode: PgbenchMode) => rows.find((r) => r.target === target && r.mode === mode);
  const find = (target: string, mode: PgbenchMode) => row(target, mode)?.result;
  // Router CPU per transaction over PgBouncer's (> 1: the router spends more per query).
  const cpuRatio = (name: string, a?: PgbenchResult, b?: PgbenchResult) => {
    const cpuA = rows.find((r) => r.result === a)?.cpuUsPerTx;
    const cpuB = rows.find((r) => r.result === b)?.cpuUsPerTx;
    return cpuA !== undefined && cpuB !== undefined ? [`figure ${name} ${(cpuA / cpuB).toFixed(3)}`] : [];
  };
  // User CPU per transaction (CPU less system time), a over b.
  const userRatio = (name: string, a?: WireMeasurement, b?: WireMeasurement) => {
    const userA = userUs(a);
    const userB = userUs(b);
    return userA !== undefined && userB !== undefined ? [`figure ${name} ${(userA / userB).toFixed(3)}`] : [];
  };
  const ratio = (name: string, a?: PgbenchResult, b?: PgbenchResult) =>
    a && b ? [`figure ${name} ${(a.tps / b.tps).toFixed(3)}`] : [];
  const direct = { simple: find(DIRECT, "simple"), prepared: find(DIRECT, "prepared") };
  const bouncer = {
    simple: find(PGBOUNCER, "simple"),
    extended: find(PGBOUNCER, "extended"),
    prepared: find(PGBOUNCER_SESSION, "prepared"),
  };
  const wire = { simple: find(ROUTER_1, "simple"), prepared: find(ROUTER_1, "prepared") };
  const wire2 = find(ROUTER_2, "prepared");
  return [
    ...ratio("wire_vs_direct", wire.prepared, direct.prepared),
    ...ratio("wire_vs_pgbouncer", wire.prepared, bouncer.prepared),
    ...ratio("wire_simple_vs_pgbouncer", wire.simple, bouncer.simple),
    ...(wire.prepared && direct.prepared
      ? [
          `figure wire_p50_overhead_ms ${(wire.prepared.latencyP50Ms - direct.prepared.latencyP50Ms).toFixed(3)}`,
        ]
      : []),
    ...ratio("wire_vs_pgbouncer_tx_extended", wire.prepared, bouncer.extended),
    ...ratio("wire_2_shards_vs_1", wire2, wire.prepared),
    ...ratio("pgbouncer_vs_direct", bouncer.prepared, direct.prepared),
    ...ratio("pgbouncer_simple_vs_direct", bouncer.simple, direct.simple),
    ...cpuRatio(
      "wire_cpu_per_tx_vs_pgbouncer",
      find(ROUTER_1, "prepared"),
      find(PGBOUNCER_SESSION, "prepared"),
    ),
    ...cpuRatio("wire_simple_cpu_per_tx_vs_pgbouncer", find(ROUTER_1, "simple"), find(PGBOUNCER, "simple")),
    // What the least Node relay costs: the part of the router's cost that is Node's, not its own.
    ...ratio("node_relay_vs_pgbouncer", find(NODE_RELAY, "prepared"), bouncer.prepared),
    ...cpuRatio("node_relay_cpu_per_tx_vs_pgbouncer", find(NODE_RELAY, "prepared"), bouncer.prepared),
    ...cpuRatio("wire_cpu_per_tx_vs_node_relay", wire.prepared, find(NODE_RELAY, "prepared")),
    ...userRatio("wire_user_per_tx_vs_node_relay", row(ROUTER_1, "prepared"), row(NODE_RELAY, "prepared")),
    // Against the router before a change (BENCH_ROUTER_BASE_ENTRY), measured in the same run.
    ...ratio("wire_vs_base", wire.prepared, find(BASE_ROUTER_1, "prepared")),
    ...ratio("wire_simple_vs_base", wire.simple, find(BASE_ROUTER_1, "simple")),
    ...cpuRatio("wire_cpu_per_tx_vs_base", wire.prepared, find(BASE_ROUTER_1, "prepared")),
    ...userRatio("wire_user_per_tx_vs_base", row(ROUTER_1, "prepared"), row(BASE_ROUTER_1, "prepared")),
    ...cpuRatio("wire_simple_cpu_per_tx_vs_base", wire.simple, find(BASE_ROUTER_1, "simple")),
  ];
}

/**
 * Node relays built otherwise (node-relay.ts's env for each, BENCH_RELAY_VARIANTS), beside the
 * bare one: what a Node hop can reach on this machine.
 */
export const RELAY_VARIANTS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  /** HTTP, NATS and pg traffic in the same process (the router's other sockets). */
  busy: { RELAY_BUSY: "1" },
  /**
   * 3 s of HTTP, NATS and pg traffic (a round every ms) before the runs, then those connections
   * idle: their sockets' marks on V8's inline caches, without their CPU.
   */
  polluted: { RELAY_BUSY: "1", RELAY_BUSY_MS: "1", RELAY_BUSY_FOR_MS: "3000" },
  /** polluted's traffic on the main thread, the relay's sockets in a worker thread. */
  "worker-polluted": { RELAY_WORKER: "1", RELAY_BUSY: "1", RELAY_BUSY_MS: "1", RELAY_BUSY_FOR_MS: "3000" },
  /** The relay's sockets in a worker thread. */
  worker: { RELAY_WORKER: "1" },
  /** The relay's sockets in a worker thread, the HTTP, NATS and pg traffic on the main thread. */
  "worker-busy": { RELAY_WORKER: "1", RELAY_BUSY: "1" },
  /** The server side read with net's onread (one static buffer, no stream push). */
  onread: { RELAY_READ: "onread" },
  /** stream.pipe both ways. */
  pipe: { RELAY_READ: "pipe" },
  /** Nagle left on (no setNoDelay). */
  nagle: { RELAY_NODELAY: "0" },
  /** A bigger young generation: fewer scavenges. */
  semi: { NODE_OPTIONS: "--max-semi-space-size=32" },
};

/**
 * Each relay variant's tps over PgBouncer's (session, prepared), CPU per tx over the bare relay's,
 * and user CPU per tx (CPU less system time: Node's own work, the kernel's socket work apart, the
 * steadier figure on a loaded machine) over the bare relay's.
 */
export function relayVariantFigures(rows: readonly WireMeasurement[]): string[] {
  const bouncer = rows.find((r) => r.target === PGBOUNCER_SESSION && r.mode === "prepared");
  const bare = rows.find((r) => r.target === NODE_RELAY && r.mode === "prepared");
  return rows
    .filter((r) => r.target.startsWith(RELAY_VARIANT_PREFIX) && r.mode === "prepared")
    .flatMap((r) => {
      const name = `node_relay_${r.target.slice(RELAY_VARIANT_PREFIX.length).replaceAll("-", "_")}`;
      return [
        ...(bouncer ? [`figure ${name}_vs_pgbouncer ${(r.result.tps / bouncer.result.tps).toFixed(3)}`] : []),
        ...(bare?.cpuUsPerTx !== undefined && r.cpuUsPerTx !== undefined
          ? [`figure ${name}_cpu_per_tx_vs_node_relay ${(r.cpuUsPerTx / bare.cpuUsPerTx).toFixed(3)}`]
          : []),
        ...(userUs(bare) !== undefined && userUs(r) !== undefined
          ? [`figure ${name}_user_per_tx_vs_node_relay ${(userUs(r)! / userUs(bare)!).toFixed(3)}`]
          : []),
      ];
    });
}

/** User CPU µs per transaction (CPU less system time). */
function userUs(r: WireMeasurement | undefined): number | undefined {
  return r?.cpuUsPerTx !== undefined && r.systemUsPerTx !== undefined
    ? r.cpuUsPerTx - r.systemUsPerTx
    : undefined;
}

export const RELAY_VARIANT_PREFIX = "node relay ";
export const DIRECT = "direct";
export const PGBOUNCER = "pgbouncer";
export const PGBOUNCER_SESSION = "pgbouncer session";
/** node-relay.ts: bytes piped both ways, one server connection per client (session mode). */
export const NODE_RELAY = "node pass-through";
export const ROUTER_1 = "router 1 shard";
export const ROUTER_2 = "router 2 shards";
export const BASE_ROUTER_1 = `base ${ROUTER_1}`;
