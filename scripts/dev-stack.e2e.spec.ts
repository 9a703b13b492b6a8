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
import { afterAll, expect, test } from "vitest";

const root = resolve(import.meta.dirname, "..");
const services = readdirSync(join(root, "services")).filter((name) =>
  existsSync(join(root, "services", name, "src/main.ts")),
);
// The six HTTP ports and the router's PostgreSQL endpoint.
const stackPorts = [7101, 7102, 7103, 7104, 7105, 7106, 7432];

let stack: ChildProcess | undefined;

afterAll(async () => {
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
