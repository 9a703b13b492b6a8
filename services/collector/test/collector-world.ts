import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ChildService,
  createTestNats,
  createTestRedis,
  freePort,
  startChildService,
  type TestNats,
  type TestRedis,
  waitFor,
} from "@dbplane/testkit";

const ENTRY = new URL("../src/main.ts", import.meta.url).pathname;

export interface StaticTarget {
  readonly name: string;
  readonly url: string;
  readonly passwordFile?: string;
}

/** One running collector process and where it answers. */
export interface CollectorProcess {
  readonly child: ChildService;
  readonly url: string;
  /** Its member id, as `GET /v1/members` shows it. */
  readonly memberId: string;
}

export interface CollectorWorld {
  readonly nats: TestNats;
  readonly redis: TestRedis;
  readonly dir: string;
  readonly processes: CollectorProcess[];
  /** Writes the static targets file every process of this world reads. */
  setTargets(targets: readonly StaticTarget[]): Promise<void>;
  start(extra?: Record<string, string>): Promise<CollectorProcess>;
  /** Lines "target collected" of every process so far: who collected what under which epoch. */
  collections(): { target: string; member: string; epoch: number }[];
  /** "assignment written" lines of every process so far. */
  assignments(): { epoch: number; leader: string; moved: number }[];
  cleanup(): Promise<void>;
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

export async function createCollectorWorld(baseEnv: Record<string, string> = {}): Promise<CollectorWorld> {
  const nats = await createTestNats();
  const redis = await createTestRedis();
  const dir = await mkdtemp(join(tmpdir(), "collector-test-"));
  const targetsFile = join(dir, "targets.json");
  await writeFile(targetsFile, "[]");
  const processes: CollectorProcess[] = [];
  const everyLog = () => processes.flatMap((p) => p.child.logs());
  return {
    nats,
    redis,
    dir,
    processes,
    async setTargets(targets) {
      await writeFile(targetsFile, JSON.stringify(targets));
    },
    async start(extra = {}) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const child = await startChildService({
        entry: ENTRY,
        name: `collector-${processes.length}`,
        readyUrl: `${url}/health/ready`,
        env: {
          DBPLANE_HTTP_HOST: "127.0.0.1",
          DBPLANE_HTTP_PORT: String(port),
          DBPLANE_NATS_URL: nats.url,
          DBPLANE_NATS_NAMESPACE: nats.namespace,
          DBPLANE_REDIS_URL: redis.url,
          DBPLANE_COLLECTOR_REDIS_PREFIX: redis.prefix,
          DBPLANE_COLLECTOR_TARGETS_FILE: targetsFile,
          DBPLANE_SHUTDOWN_DELAY_MS: "0",
          DBPLANE_LOG_LEVEL: "debug",
          ...baseEnv,
          ...extra,
        },
      });
      const pid = child.process.pid;
      const memberId = await waitFor(async () => {
        const group = await getJson<{ members: { id: string; info: { pid?: number } }[] }>(
          `${url}/v1/members`,
        );
        return group.members.find((m) => m.info.pid === pid)?.id;
      });
      const started = { child, url, memberId };
      processes.push(started);
      return started;
    },
    collections: () =>
      everyLog()
        .filter((l) => l.msg === "target collected")
        .map((l) => ({ target: String(l.target), member: String(l.member), epoch: Number(l.epoch) })),
    assignments: () =>
      everyLog()
        .filter((l) => l.msg === "assignment written")
        .map((l) => ({ epoch: Number(l.epoch), leader: String(l.leader), moved: Number(l.moved) })),
    async cleanup() {
      await Promise.all(processes.map((p) => p.child.dispose()));
      await redis.cleanup();
      await nats.cleanup();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
