// `./scripts/dev` with its demos: the router demo must end with the split the router made by
// itself, no write failed. Then Ctrl-C: in a terminal it sends SIGINT to the terminal's whole
// foreground process group: the stack and, unless they live in groups of their own, every
// service it started. Each service must then see one shutdown signal, not two, and exit 0.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { connect, createServer } from "node:net";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { stripVTControlCharacters } from "node:util";
import { afterEach, expect, test } from "vitest";

const root = resolve(import.meta.dirname, "..");
const services = readdirSync(join(root, "services")).filter((name) =>
  existsSync(join(root, "services", name, "src/main.ts")),
);
// The six HTTP ports and the router's PostgreSQL endpoint.
const stackPorts = [7101, 7102, 7103, 7104, 7105, 7106, 7432];

let stack: ChildProcess | undefined;

afterEach(async () => {
  if (!stack || stack.exitCode !== null || stack.signalCode !== null) return;
  // The stack stops its services on SIGTERM; SIGKILL only if that hangs.
  const exited = new Promise((r) => stack?.once("exit", r));
  stack.kill("SIGTERM");
  const forced = setTimeout(() => stack?.kill("SIGKILL"), 60_000);
  await exited;
  clearTimeout(forced);
});

function portFree(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const server = createServer()
      .once("error", () => resolvePort(false))
      .listen(port, "127.0.0.1", () => server.close(() => resolvePort(true)));
  });
}

/** The one-byte answer to an SSLRequest (`S`: TLS offered, `N`: not). */
function sslAnswer(port: number): Promise<string> {
  return new Promise((resolveAnswer, reject) => {
    const socket = connect(port, "127.0.0.1", () => {
      const request = Buffer.alloc(8);
      request.writeInt32BE(8, 0);
      request.writeInt32BE(80877103, 4);
      socket.write(request);
    });
    socket.once("data", (chunk) => {
      resolveAnswer(chunk.toString("latin1", 0, 1));
      socket.destroy();
    });
    socket.once("error", reject);
  });
}

test("./scripts/dev runs the demos (the router's ends with an automatic split); stopped by SIGINT to its process group, every service exits 0", async () => {
  const busy = [];
  for (const port of stackPorts) if (!(await portFree(port))) busy.push(port);
  expect(busy, "ports ./scripts/dev listens on are taken (is a stack running?)").toEqual([]);

  // `detached`: a process group of its own, as a terminal gives a foreground job.
  stack = spawn(join(root, "scripts/dev"), [], {
    cwd: root,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const exitCodes = new Map<string, string>();
  let onReady: () => void = () => {};
  const ready = new Promise<void>((r) => {
    onReady = r;
  });
  let onDemoDone: () => void = () => {};
  const demoDone = new Promise<void>((r) => {
    onDemoDone = r;
  });
  const demoLines: string[] = [];
  for (const stream of [stack.stdout, stack.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on("line", (line) => {
      output.push(line);
      if (line === "[dbplane] ready:") onReady();
      const demo = /^router demo\s*│ (.*)$/.exec(stripVTControlCharacters(line));
      if (demo) {
        demoLines.push(demo[1]!);
        // The demo's last line: the counts after the split.
        if (demoLines.some((l) => l.startsWith("reshard ")) && demo[1]!.startsWith("scatter count(*)"))
          onDemoDone();
      }
      const exit = /^\[dbplane\] (\S+) exited \((\w+)\)$/.exec(line);
      if (exit) exitCodes.set(exit[1]!, exit[2]!);
    });
  }
  const stackExit = new Promise<number | string>((r) => {
    stack?.once("exit", (code, signal) => r(code ?? signal ?? "?"));
  });

  const startedOrEnded = await Promise.race([ready.then(() => "ready"), stackExit]);
  expect(startedOrEnded, output.join("\n")).toBe("ready");
  // The router's PostgreSQL port offers TLS with the stack's self-signed pair.
  expect(await sslAnswer(7432)).toBe("S");

  const demoEnded = await Promise.race([demoDone.then(() => "done"), stackExit]);
  expect(demoEnded, output.join("\n")).toBe("done");
  const said = demoLines.join("\n");
  expect(said).toMatch(/the router started reshard rs_\w+ by itself \(auto: hot:/);
  for (const phase of ["copying", "catching-up", "verifying", "cutting-over", "cleaning-up"]) {
    expect(said).toContain(`phase ${phase}`);
  }
  expect(said).toMatch(/^reshard completed: map version \d+/m);
  expect(said).toMatch(/verified customers: \d+ moved rows, checksums equal/);
  expect(said).toMatch(/ 0 writes failed$/m);
  expect(said).toMatch(/shard 2 owns hashes/);
  // Leave no cluster running: the demo's database goes with the stack.
  const token = /export DBPLANE_TOKEN=(\S+)/.exec(output.join("\n"))?.[1];
  const deleted = await fetch("http://127.0.0.1:7102/v1/databases/demo-shop?keepVolumes=false", {
    method: "DELETE",
    headers: { authorization: `Bearer ${token}` },
  });
  expect(deleted.status).toBe(202);
  for (let gone = false; !gone; ) {
    const res = await fetch("http://127.0.0.1:7102/v1/databases/demo-shop", {
      headers: { authorization: `Bearer ${token}` },
    });
    gone = res.status === 404;
    if (!gone) await new Promise((r) => setTimeout(r, 250));
  }

  process.kill(-stack.pid!, "SIGINT");
  expect(await stackExit, output.join("\n")).toBe(0);
  expect(Object.fromEntries(exitCodes), output.join("\n")).toEqual(
    Object.fromEntries(services.map((name) => [name, "0"])),
  );
}, 420_000);

// `./scripts/dev --replicas 2` (only the scheduler demo, whose heartbeat job fires every 10 s):
// one replica of every service is SIGKILLed — for the scheduler the one holding the heartbeat
// job's claim when one holds it, for the collector the group's leader — and the supervisor must
// restart each after its first backoff step while the stack runs on. Then the platform must
// show the kill cost nothing: the heartbeat occurrences across it are consecutive stream
// sequences, each Nats-Msg-Id once, no occurrence missing; every target the collector had is
// collected again by a live member; the audit projection holds each firing once. In the same
// file as the test above so the two stacks (same ports) never run at the same time.
interface ReplicaLine {
  readonly port: number;
  readonly pid: number;
}

// The replicas #2, the router#2's PostgreSQL endpoint, the entry points (round-robin proxies).
const replicaPorts = [
  ...stackPorts,
  7111,
  7112,
  7113,
  7114,
  7115,
  7116,
  7442,
  7201,
  7202,
  7203,
  7204,
  7205,
  7206,
];
const services6 = ["discovery", "provisioner", "router", "scheduler", "projection-coordinator", "collector"];

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const found = await probe();
      if (found !== undefined) return found;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`gave up waiting for ${what}${last ? ` (last error: ${last})` : ""}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return (await res.json()) as T;
}

const pidOf = (id: string | null | undefined) => Number(/:(\d+):/.exec(id ?? "")?.[1] ?? Number.NaN);

test("./scripts/dev --replicas 2: one replica of every service SIGKILLed is restarted within the backoff, the heartbeat fires once per occurrence, the collector's targets are collected again, the audit projection is complete, the stack never stops", async () => {
  const busy = [];
  for (const port of replicaPorts) if (!(await portFree(port))) busy.push(port);
  expect(busy, "ports ./scripts/dev --replicas 2 listens on are taken (is a stack running?)").toEqual([]);

  stack = spawn(join(root, "scripts/dev"), ["--replicas", "2", "--demos", "scheduler"], {
    cwd: root,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const replicas = new Map<string, ReplicaLine>();
  const unexpectedExits: Array<{ label: string; pid: number; how: string; restart: number; delay: string }> =
    [];
  const restarted = new Map<string, number>();
  const heartbeats: Array<{ seq: number; msgId: string }> = [];
  let stopped = false;
  let onReady: () => void = () => {};
  const ready = new Promise<void>((r) => {
    onReady = r;
  });
  for (const stream of [stack.stdout, stack.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on("line", (raw) => {
      const line = stripVTControlCharacters(raw);
      output.push(line);
      if (line === "[dbplane] ready:") onReady();
      if (line.startsWith("[dbplane] stopping every service")) stopped = true;
      const listed = /^ {2}(\S+#\d) +http:\/\/127\.0\.0\.1:(\d+)\b.* pid (\d+)$/.exec(line);
      if (listed) replicas.set(listed[1]!, { port: Number(listed[2]), pid: Number(listed[3]) });
      const exit =
        /^\[dbplane\] (\S+) \(pid (\d+)\) exited unexpectedly \((\w+)\).*; restart (\d+) in ([\d.]+ s)$/.exec(
          line,
        );
      if (exit) {
        unexpectedExits.push({
          label: exit[1]!,
          pid: Number(exit[2]),
          how: exit[3]!,
          restart: Number(exit[4]),
          delay: exit[5]!,
        });
      }
      const back = /^\[dbplane\] (\S+) restarted: pid (\d+) ready on /.exec(line);
      if (back) restarted.set(back[1]!, Number(back[2]));
      const beat = /^scheduler demo\s*│ \S+ demo\.heartbeat seq=(\d+) Nats-Msg-Id=(\S+) /.exec(line);
      if (beat) heartbeats.push({ seq: Number(beat[1]), msgId: beat[2]! });
    });
  }
  const stackExit = new Promise<number | string>((r) => {
    stack?.once("exit", (code, signal) => r(code ?? signal ?? "?"));
  });
  const log = () => output.join("\n");

  expect(await Promise.race([ready.then(() => "ready"), stackExit]), log()).toBe("ready");
  // The summary lists every replica, #1 on the usual port, #2 ten above.
  expect([...replicas.keys()].sort(), log()).toEqual(services6.flatMap((s) => [`${s}#1`, `${s}#2`]).sort());
  services6.forEach((s, i) => {
    expect(replicas.get(`${s}#1`)?.port).toBe(7101 + i);
    expect(replicas.get(`${s}#2`)?.port).toBe(7111 + i);
  });
  expect(log()).toContain("router#2                 http://127.0.0.1:7113  (PostgreSQL 7442)");
  services6.forEach((s, i) => {
    expect(log()).toContain(`  ${s.padEnd(24)} http://127.0.0.1:${7201 + i}  over ${s}#1, ${s}#2`);
  });

  // Before the kill: one heartbeat fired, every target collected, every projection unit owned.
  await until("a first heartbeat", async () => (heartbeats.length > 0 ? true : undefined));
  const firstSeq = heartbeats[0]!.seq;
  type Target = {
    id: string;
    owner: string | null;
    lastSample: { at: string } | null;
    health: { state: string } | null;
  };
  // The local PostgreSQL's `postgres` database at least (other tests' databases come and go).
  const targetsBefore = await until("collected targets", async () => {
    const { items } = await getJson<{ items: Target[] }>("http://127.0.0.1:7106/v1/targets?limit=1000");
    const collected = items.filter((t) => t.lastSample);
    return collected.some((t) => t.id === "local:127.0.0.1:5432/postgres") ? collected : undefined;
  });
  const leader = await until("a collector leader", async () => {
    const group = await getJson<{ leader: string | null }>("http://127.0.0.1:7106/v1/members");
    return group.leader ?? undefined;
  });
  // The replica holding the heartbeat's claim (a claim lives from ~2 s before each occurrence).
  const claimant = await until("a claim on the heartbeat job", async () => {
    const job = await getJson<{ claimedBy: string | null }>("http://127.0.0.1:7104/v1/jobs/demo-heartbeat");
    return job.claimedBy ?? undefined;
  });
  const victimOf = (service: string, pid: number) =>
    replicas.get(`${service}#1`)?.pid === pid ? `${service}#1` : `${service}#2`;
  const victims = services6.map((s) =>
    s === "scheduler"
      ? victimOf(s, pidOf(claimant))
      : s === "collector"
        ? victimOf(s, pidOf(leader))
        : `${s}#2`,
  );
  const killedAt = new Date();
  for (const label of victims) process.kill(replicas.get(label)!.pid, "SIGKILL");

  // Each one is restarted after the first backoff step (0.5 s), once, and is ready again.
  await until("every killed replica restarted", async () =>
    victims.every((v) => restarted.has(v)) ? true : undefined,
  );
  expect(
    unexpectedExits.map((e) => ({ ...e })).sort((a, b) => a.label.localeCompare(b.label)),
    log(),
  ).toEqual(
    victims
      .map((label) => ({ label, pid: replicas.get(label)!.pid, how: "SIGKILL", restart: 1, delay: "0.5 s" }))
      .sort((a, b) => a.label.localeCompare(b.label)),
  );
  for (const label of victims) {
    expect((await fetch(`http://127.0.0.1:${replicas.get(label)!.port}/health/ready`)).status).toBe(200);
  }

  // Each entry point hands consecutive requests to both replicas.
  for (const [i, s] of services6.entries()) {
    const answeredBy = new Set<string | null>();
    for (let n = 0; n < 2; n++) {
      const res = await fetch(`http://127.0.0.1:${7201 + i}/health/ready`);
      expect(res.status).toBe(200);
      answeredBy.add(res.headers.get("x-dbplane-replica"));
    }
    expect(answeredBy).toEqual(new Set([`${s}#1`, `${s}#2`]));
  }

  // The heartbeat: occurrences go on past the kill (two after the restarts at least), each
  // one published once — consecutive stream sequences, consecutive 10 s Nats-Msg-Ids.
  const scheduledAt = (msgId: string) => Date.parse(msgId.slice("demo-heartbeat:".length));
  const allBack = Date.now();
  await until(
    "two heartbeats scheduled after the restarts",
    async () => (heartbeats.filter((h) => scheduledAt(h.msgId) > allBack).length >= 2 ? true : undefined),
    180_000,
  );
  const beats = [...heartbeats];
  expect(scheduledAt(beats[0]!.msgId)).toBeLessThan(killedAt.getTime());
  expect(new Set(beats.map((b) => b.msgId)).size, log()).toBe(beats.length);
  beats.forEach((b, i) => {
    expect(b.seq, log()).toBe(firstSeq + i);
    expect(scheduledAt(b.msgId), log()).toBe(scheduledAt(beats[0]!.msgId) + 10_000 * i);
  });
  // The scheduler's own record agrees: each of them a fired run with that stream sequence (a
  // run is recorded just after its publish is acknowledged, so the newest may come a bit later).
  type Run = { scheduledAt: string; outcome: string; streamSeq: number | null };
  const recorded = await until("a run recorded for each heartbeat", async () => {
    const runs = await getJson<{ items: Run[] }>(
      "http://127.0.0.1:7114/v1/jobs/demo-heartbeat/runs?limit=100",
    );
    const found = beats.map((b) => runs.items.find((r) => `demo-heartbeat:${r.scheduledAt}` === b.msgId));
    return found.every((r) => r !== undefined) ? found : undefined;
  });
  beats.forEach((b, i) => {
    expect(recorded[i], b.msgId).toMatchObject({ outcome: "fired", streamSeq: b.seq });
  });

  // The collector: every target it had is owned by a live member and collected after the kill
  // (a database another test dropped meanwhile may be gone from the list or down: not counted).
  const collectorPids = () =>
    new Set(["collector#1", "collector#2"].map((l) => restarted.get(l) ?? replicas.get(l)!.pid));
  await until("every target collected again", async () => {
    const { items } = await getJson<{ items: Target[] }>("http://127.0.0.1:7116/v1/targets?limit=1000");
    const again = targetsBefore.every((before) => {
      const now = items.find((t) => t.id === before.id);
      if (!now || now.health?.state === "down") return before.id !== "local:127.0.0.1:5432/postgres";
      return (
        collectorPids().has(pidOf(now.owner)) && Date.parse(now.lastSample?.at ?? "") > killedAt.getTime()
      );
    });
    return again ? true : undefined;
  });

  // The audit projection: every unit owned by a live replica, and each firing in it once.
  const projectionPids = () =>
    new Set(
      ["projection-coordinator#1", "projection-coordinator#2"].map(
        (l) => restarted.get(l) ?? replicas.get(l)!.pid,
      ),
    );
  await until("the audit projection complete", async () => {
    const projections = await getJson<{
      items: Array<{
        name: string;
        generations: Array<{ state: string; units: Array<{ owner: string | null }> }>;
      }>;
    }>("http://127.0.0.1:7115/v1/projections");
    const units = projections.items.flatMap((p) =>
      p.generations.filter((g) => g.state === "active").flatMap((g) => g.units),
    );
    if (units.length === 0 || !units.every((u) => projectionPids().has(pidOf(u.owner)))) return undefined;
    const audit = await getJson<{ items: Array<{ id: string }> }>(
      `http://127.0.0.1:7105/v1/audit?subject=demo-heartbeat&type=io.dbplane.scheduler.job.fired.v1&limit=1000&from=${new Date(scheduledAt(beats[0]!.msgId)).toISOString()}`,
    );
    const ids = audit.items.map((e) => e.id);
    const complete = beats.every((b) => ids.filter((id) => id === `fired:${b.msgId}`).length === 1);
    return complete ? true : undefined;
  });

  // The stack never stopped: no stop line, every replica ready, and only the six kills seen.
  expect(stopped, log()).toBe(false);
  expect(stack.exitCode).toBe(null);
  for (const { port } of replicas.values()) {
    expect((await fetch(`http://127.0.0.1:${port}/health/ready`)).status, `port ${port}`).toBe(200);
  }
  expect(unexpectedExits.length, log()).toBe(victims.length);

  process.kill(-stack.pid!, "SIGINT");
  expect(await stackExit, log()).toBe(0);
}, 300_000);

// A replica that cannot start (here: a scheduler config it refuses, exit 78) is retried with
// backoff; after --max-start-failures failed starts in a row the stack stops with a message
// that names it, and every other service is stopped cleanly.
test("./scripts/dev: a replica failing to start --max-start-failures times in a row stops the stack with a clear message", async () => {
  const busy = [];
  for (const port of stackPorts) if (!(await portFree(port))) busy.push(port);
  expect(busy, "ports ./scripts/dev listens on are taken (is a stack running?)").toEqual([]);
  stack = spawn(join(root, "scripts/dev"), ["--no-demo", "--max-start-failures", "2"], {
    cwd: root,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, DBPLANE_SCHEDULER_TICK_MS: "5" },
  });
  const output: string[] = [];
  for (const stream of [stack.stdout, stack.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on("line", (line) => output.push(stripVTControlCharacters(line)));
  }
  const code = await new Promise((r) => stack?.once("exit", (c, signal) => r(c ?? signal)));
  const log = output.join("\n");
  expect(code, log).toBe(1);
  expect(log).toMatch(
    /^\[dbplane\] scheduler \(pid \d+\) exited unexpectedly \(exit code 78\) before it was ready, 1 failed start\(s\) in a row; restart 1 in 0\.5 s$/m,
  );
  expect(log).toContain(
    "[dbplane] scheduler failed to start 2 times in a row (last: exit code 78); stopping the stack",
  );
  expect(log).toContain("DBPLANE_SCHEDULER_TICK_MS: Too small");
  expect(log).not.toContain("[dbplane] ready:");
  // Stopped, each one: with 0, or by the SIGTERM itself when it came before the service was up
  // enough to handle it.
  for (const name of services.filter((s) => s !== "scheduler")) {
    expect(log).toMatch(new RegExp(`^\\[dbplane\\] ${name} exited \\((0|SIGTERM)\\)$`, "m"));
  }
}, 180_000);
