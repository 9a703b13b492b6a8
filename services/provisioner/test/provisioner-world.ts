import { execFileSync } from "node:child_process";
import { chmod, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createTestSchema,
  type HttpClient,
  type ServiceWorld,
  serviceWorld,
  type TestSchema,
  waitFor,
} from "@dbplane/testkit";
import { expect } from "vitest";

/** A provisioner's world: its PostgreSQL schema and the data directory its clusters live in. */
export interface ProvisionerWorld extends ServiceWorld {
  readonly db: TestSchema;
  readonly dataDir: string;
}

export async function createProvisionerWorld(): Promise<ProvisionerWorld> {
  const db = await createTestSchema("prov");
  // Under /tmp and traversable: the servers run as the `postgres` user when tests run as root.
  const dataDir = await mkdtemp(join(tmpdir(), "dbplane-prov-"));
  await chmod(dataDir, 0o711);
  const world = await serviceWorld({
    entry: join(import.meta.dirname, "../src/main.ts"),
    name: "provisioner",
    jwtSecret: "provisioner-test-secret-0123456789abcdef",
    env: {
      DBPLANE_PG_URL: db.url,
      DBPLANE_PROVISIONER_SCHEMA: db.name,
      DBPLANE_DATA_DIR: dataDir,
      DBPLANE_RECONCILE_INTERVAL_MS: "200",
      DBPLANE_LOG_LEVEL: "debug",
    },
  });
  world.defer(() => db.drop());
  world.defer(async () => {
    await stopClusters(dataDir);
    await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
  });
  return { ...world, db, dataDir };
}

/** Waits (up to 3 minutes: clusters are made, backed up, restored) for an operation to succeed. */
export async function operationSucceeded(api: HttpClient, operationId: string): Promise<void> {
  const op = await waitFor(
    async () => {
      const r = await api.call("GET", `/v1/operations/${operationId}`);
      return r.body.state !== "pending" && r.body;
    },
    { timeoutMs: 180_000, what: `operation ${operationId} to finish` },
  );
  expect(op).toMatchObject({ state: "succeeded" });
}

/** Every data directory (a postmaster.pid's directory) under `dir`. */
export async function findServers(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (e.name === "postmaster.pid") found.push(d);
    }
  };
  await walk(dir);
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Immediate shutdown (SIGQUIT) of every server left under `dir`, so no test leaves a postmaster behind. */
export async function stopClusters(dir: string): Promise<void> {
  const pids: number[] = [];
  for (const server of await findServers(dir)) {
    const pid = Number((await readFile(join(server, "postmaster.pid"), "utf8")).split("\n")[0]);
    if (pid > 1 && alive(pid)) {
      process.kill(pid, "SIGQUIT");
      pids.push(pid);
    }
  }
  await waitFor(() => pids.every((p) => !alive(p)), { timeoutMs: 30_000 }).catch(() => {
    for (const p of pids.filter(alive)) process.kill(p, "SIGKILL");
  });
}

/** Postmasters running out of data directories under `dir`, by process table (not pid files). */
export function postmastersUnder(dir: string): string[] {
  const out = execFileSync("ps", ["-eo", "pid,ppid,args"], { encoding: "utf8" });
  const servers = out
    .split("\n")
    .filter((line) => /\bpostgres\b.*-D /.test(line) && line.includes(dir))
    .map((line) => {
      const [pid = "", ppid = "", ...args] = line.trim().split(/\s+/);
      return { pid, ppid, line: `${pid} ${args.join(" ")}` };
    });
  // A backend a postmaster has just forked (a connection still in its TLS handshake or startup)
  // shows the postmaster's command line until it sets its own title: a child, not a server.
  const pids = new Set(servers.map((s) => s.pid));
  return servers.filter((s) => !pids.has(s.ppid)).map((s) => s.line);
}

export async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}
