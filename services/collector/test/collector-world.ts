import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createTestRedis,
  type ServiceReplica,
  type ServiceWorld,
  serviceWorld,
  type TestRedis,
  waitFor,
} from "@dbplane/testkit";

export interface StaticTarget {
  readonly name: string;
  readonly url: string;
  readonly passwordFile?: string;
}

/** A replica and its member id, as `GET /v1/members` shows it. */
export type Replica = ServiceReplica & { readonly memberId: string };

/** A collector's world: a Redis prefix and the static targets file every replica reads. */
export interface CollectorWorld extends ServiceWorld<{ readonly memberId: string }> {
  readonly redis: TestRedis;
  readonly dir: string;
  /** Writes the static targets file every replica of this world reads. */
  setTargets(targets: readonly StaticTarget[]): Promise<void>;
  /** Lines "target collected" of every replica so far: who collected what under which epoch. */
  collections(): { target: string; member: string; epoch: number }[];
  /** "assignment written" lines of every replica so far. */
  assignments(): { epoch: number; leader: string; moved: number }[];
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

/** The member id the replica announced: the group member whose `info.pid` is its process. */
const memberIdOf = async ({ base, svc }: ServiceReplica) => ({
  memberId: await waitFor(async () => {
    const group = await getJson<{ members: { id: string; info: { pid?: number } }[] }>(`${base}/v1/members`);
    return group.members.find((m) => m.info.pid === svc.process.pid)?.id;
  }),
});

export async function createCollectorWorld(baseEnv: Record<string, string> = {}): Promise<CollectorWorld> {
  const redis = await createTestRedis();
  const dir = await mkdtemp(join(tmpdir(), "collector-test-"));
  const targetsFile = join(dir, "targets.json");
  await writeFile(targetsFile, "[]");
  const world = await serviceWorld({
    entry: join(import.meta.dirname, "../src/main.ts"),
    name: "collector",
    jwtSecret: "collector-test-secret-0123456789abcdef",
    env: {
      DBPLANE_REDIS_URL: redis.url,
      DBPLANE_COLLECTOR_REDIS_PREFIX: redis.prefix,
      DBPLANE_COLLECTOR_TARGETS_FILE: targetsFile,
      // Provisioned shards' password files are read only inside the data directory.
      DBPLANE_DATA_DIR: dir,
      DBPLANE_LOG_LEVEL: "debug",
      ...baseEnv,
    },
    extend: memberIdOf,
  });
  world.defer(() => rm(dir, { recursive: true, force: true }));
  world.defer(() => redis.cleanup());
  const everyLog = () => world.replicas.flatMap((r) => r.svc.logs());
  return {
    ...world,
    redis,
    dir,
    async setTargets(targets) {
      await writeFile(targetsFile, JSON.stringify(targets));
    },
    collections: () =>
      everyLog()
        .filter((l) => l.msg === "target collected")
        .map((l) => ({ target: String(l.target), member: String(l.member), epoch: Number(l.epoch) })),
    assignments: () =>
      everyLog()
        .filter((l) => l.msg === "assignment written")
        .map((l) => ({ epoch: Number(l.epoch), leader: String(l.leader), moved: Number(l.moved) })),
  };
}
