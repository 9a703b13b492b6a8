import { execFileSync } from "node:child_process";
import { chmod, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { busNames } from "@dbplane/bus";
import { signToken } from "@dbplane/service-kit";
import {
  type ChildService,
  createTestNats,
  createTestSchema,
  freePort,
  startChildService,
  type TestNats,
  type TestSchema,
  waitFor,
} from "@dbplane/testkit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";

export const JWT_SECRET = "provisioner-test-secret-0123456789abcdef";
const entry = join(import.meta.dirname, "../src/main.ts");

/** An event as it arrived in the namespace's DBPLANE_EVT stream. */
export interface SeenEvent {
  readonly type: string;
  readonly id: string;
  readonly subject: string;
  readonly correlationId: string | undefined;
  readonly data: Record<string, unknown>;
  readonly raw: string;
}

export interface Replica {
  readonly svc: ChildService;
  readonly base: string;
}

/** One test's world: schema, NATS namespace, a data directory, provisioner replicas. */
export interface ProvisionerWorld {
  readonly db: TestSchema;
  readonly nats: TestNats;
  readonly dataDir: string;
  startReplica(env?: Record<string, string>): Promise<Replica>;
  token(): Promise<string>;
  /** Every event in the namespace's event stream so far. */
  events(): Promise<SeenEvent[]>;
  /** Everything every replica ever logged. */
  output(): string;
  dispose(): Promise<void>;
}

export async function createProvisionerWorld(): Promise<ProvisionerWorld> {
  const db = await createTestSchema("prov");
  const nats = await createTestNats();
  // Under /tmp and traversable: the servers run as the `postgres` user when tests run as root.
  const dataDir = await mkdtemp(join(tmpdir(), "dbplane-prov-"));
  await chmod(dataDir, 0o711);
  const replicas: ChildService[] = [];
  const outputs: string[] = [];
  const names = busNames(nats.namespace);
  return {
    db,
    nats,
    dataDir,
    async startReplica(env = {}) {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const svc = await startChildService({
        entry,
        name: `provisioner-${replicas.length}`,
        readyUrl: `${base}/health/ready`,
        readyTimeoutMs: 30_000,
        env: {
          DBPLANE_HTTP_HOST: "127.0.0.1",
          DBPLANE_HTTP_PORT: String(port),
          DBPLANE_JWT_SECRET: JWT_SECRET,
          DBPLANE_NATS_URL: nats.url,
          DBPLANE_NATS_NAMESPACE: nats.namespace,
          DBPLANE_PG_URL: db.url,
          DBPLANE_PROVISIONER_SCHEMA: db.name,
          DBPLANE_DATA_DIR: dataDir,
          DBPLANE_SHUTDOWN_DELAY_MS: "0",
          DBPLANE_RECONCILE_INTERVAL_MS: "200",
          DBPLANE_LOG_LEVEL: "debug",
          ...env,
        },
      });
      replicas.push(svc);
      return { svc, base };
    },
    token: () => signToken(JWT_SECRET, { sub: "provisioner-test" }),
    async events() {
      const stream = names.stream("evt");
      const jsm = await jetstreamManager(nats.nc);
      const info = await jsm.streams.info(stream).catch(() => undefined);
      if (!info || info.state.messages === 0) return [];
      const consumer = await jetstream(nats.nc).consumers.get(stream);
      const out: SeenEvent[] = [];
      const messages = await consumer.consume({ max_messages: 500 });
      for await (const m of messages) {
        const raw = m.string();
        out.push({
          type: m.headers?.get("ce-type") ?? "",
          id: m.headers?.get("ce-id") ?? "",
          subject: m.headers?.get("ce-subject") ?? "",
          correlationId: m.headers?.get("ce-correlationid") || undefined,
          data: JSON.parse(raw),
          raw,
        });
        if (m.seq >= info.state.last_seq) break;
      }
      await messages.close();
      return out;
    },
    output: () => [...outputs, ...replicas.map((r) => r.output())].join("\n"),
    async dispose() {
      for (const r of replicas) {
        outputs.push(r.output());
        await r.dispose();
      }
      await stopClusters(dataDir);
      await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
      await nats.cleanup();
      await db.drop();
    },
  };
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
  const out = execFileSync("ps", ["-eo", "pid,args"], { encoding: "utf8" });
  return out
    .split("\n")
    .filter((line) => /\bpostgres\b.*-D /.test(line) && line.includes(dir))
    .map((line) => line.trim());
}

export async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}
