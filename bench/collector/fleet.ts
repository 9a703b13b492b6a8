import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ChildService,
  createTestNats,
  createTestRedis,
  freePort,
  startChildService,
  testServerUrls,
  uniqueName,
  waitFor,
} from "@dbplane/testkit";
import pg from "pg";

const entry = new URL("../../services/collector/src/main.ts", import.meta.url).pathname;

/** Real databases on the local PostgreSQL, each named by several targets (a target is a pool, not a database). */
export interface Fleet {
  readonly targets: { name: string; url: string }[];
  readonly targetsFile: string;
  startCollector(env?: Record<string, string>): Promise<{ svc: ChildService; base: string }>;
  close(): Promise<void>;
}

export async function createFleet(databases: number, targets: number): Promise<Fleet> {
  const admin = new pg.Client({ connectionString: testServerUrls().postgres });
  admin.on("error", () => {});
  await admin.connect();
  const base = uniqueName("bench_coll");
  const names = Array.from({ length: databases }, (_, i) => `${base}_${i}`);
  for (const name of names) await admin.query(`CREATE DATABASE "${name}"`);
  const url = (name: string) => {
    const u = new URL(testServerUrls().postgres);
    u.pathname = `/${name}`;
    return u.toString();
  };
  const list = Array.from({ length: targets }, (_, i) => ({
    name: `t${i}`,
    url: url(names[i % names.length]!),
  }));
  const dir = await mkdtemp(join(tmpdir(), "bench-collector-"));
  const targetsFile = join(dir, "targets.json");
  await writeFile(targetsFile, JSON.stringify(list));
  const nats = await createTestNats();
  const redis = await createTestRedis();
  const children: ChildService[] = [];
  return {
    targets: list,
    targetsFile,
    async startCollector(env = {}) {
      const port = await freePort();
      const baseUrl = `http://127.0.0.1:${port}`;
      const svc = await startChildService({
        entry,
        name: `collector-${children.length}`,
        readyUrl: `${baseUrl}/health/ready`,
        env: {
          DBPLANE_HTTP_HOST: "127.0.0.1",
          DBPLANE_HTTP_PORT: String(port),
          DBPLANE_NATS_URL: nats.url,
          DBPLANE_NATS_NAMESPACE: nats.namespace,
          DBPLANE_REDIS_URL: redis.url,
          DBPLANE_COLLECTOR_REDIS_PREFIX: redis.prefix,
          DBPLANE_COLLECTOR_TARGETS_FILE: targetsFile,
          DBPLANE_SHUTDOWN_DELAY_MS: "0",
          DBPLANE_LOG_LEVEL: "warn",
          // The bench reads /v1/targets without a token, as against ./scripts/dev.
          DBPLANE_ANONYMOUS_READ: "true",
          ...env,
        },
      });
      children.push(svc);
      return { svc, base: baseUrl };
    },
    async close() {
      await Promise.all(children.map((c) => c.dispose()));
      await redis.cleanup();
      await nats.cleanup();
      for (const name of names) await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** CPU seconds (user + system) a process has used, from /proc (Linux). */
export function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Sum of `dbplane_collector_collection_duration_seconds_count` over every series. */
export async function collectionsOf(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith("dbplane_collector_collection_duration_seconds_count"))
    .reduce((n, l) => n + Number(l.split(" ").at(-1)), 0);
}

export async function ownersOf(base: string): Promise<Map<string, string>> {
  const res = (await (await fetch(`${base}/v1/targets?limit=1000`)).json()) as {
    items: { id: string; owner: string | null; lastSample: { durationMs: number } | null }[];
  };
  return new Map(res.items.filter((t) => t.owner).map((t) => [t.id, t.owner!]));
}

export async function scrapeDurations(base: string): Promise<number[]> {
  const res = (await (await fetch(`${base}/v1/targets?limit=1000`)).json()) as {
    items: { lastSample: { durationMs: number; state: string } | null }[];
  };
  return res.items.flatMap((t) =>
    t.lastSample && t.lastSample.state !== "down" ? [t.lastSample.durationMs] : [],
  );
}

export { waitFor };
