import { readdir } from "node:fs/promises";
import { join } from "node:path";
import {
  type ChildService,
  createTestSchema,
  freePort,
  type HttpClient,
  httpClient,
  startChildService,
  type TestSchema,
  waitFor,
} from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProvisionerWorld, type ProvisionerWorld } from "./provisioner-world.ts";

// Real PostgreSQL 15 clusters from the local driver (2 shards), backed up by dbplane's real
// scheduler firing the job the provisioner registered, restored to a point in time.
let world: ProvisionerWorld;
let api: HttpClient;
let schedulerDb: TestSchema;
let scheduler: ChildService;
let schedulerApi: HttpClient;

const name = "ledger";
const into = "ledger-restored";

beforeAll(async () => {
  world = await createProvisionerWorld();
  const replica = await world.startReplica();
  api = httpClient(replica.base, world.token());
  schedulerDb = await createTestSchema("sched");
  world.defer(() => schedulerDb.drop());
  const port = await freePort();
  scheduler = await startChildService({
    entry: join(import.meta.dirname, "../../scheduler/src/main.ts"),
    name: "scheduler",
    readyUrl: `http://127.0.0.1:${port}/health/ready`,
    readyTimeoutMs: 30_000,
    env: {
      DBPLANE_HTTP_HOST: "127.0.0.1",
      DBPLANE_HTTP_PORT: String(port),
      DBPLANE_NATS_URL: world.nats.url,
      DBPLANE_NATS_NAMESPACE: world.nats.namespace,
      DBPLANE_SHUTDOWN_DELAY_MS: "0",
      DBPLANE_ANONYMOUS_READ: "true",
      DBPLANE_JWT_SECRET: "provisioner-test-secret-0123456789abcdef",
      DBPLANE_PG_URL: schedulerDb.url,
      DBPLANE_SCHEDULER_SCHEMA: schedulerDb.name,
    },
  });
  world.defer(() => scheduler.dispose());
  schedulerApi = httpClient(`http://127.0.0.1:${port}`, world.token());
}, 90_000);
afterAll(() => world?.dispose(), 180_000);

type Backups = {
  items: {
    backupId: string;
    shard: number;
    state: string;
    location: string | null;
    stopLsn: string | null;
  }[];
  window: { earliest: string; latest: string } | null;
};
const backups = async () => (await api.call("GET", `/v1/databases/${name}/backups`)).body as Backups;
const completeIds = (b: Backups) => {
  const done = new Map<string, number>();
  for (const item of b.items)
    if (item.state === "completed") done.set(item.backupId, (done.get(item.backupId) ?? 0) + 1);
  return [...done].filter(([, n]) => n === 2).map(([id]) => id);
};

/** Connections to each shard's primary of a database, as the provisioner reports them. */
async function shardClients(db: string): Promise<pg.Client[]> {
  const { body } = await api.call("GET", `/v1/databases/${db}`);
  const shards = body.shards as { primary: { port: number }; passwordRef: { path: string } }[];
  const { readFile } = await import("node:fs/promises");
  return Promise.all(
    shards.map(async (s) => {
      const client = new pg.Client({
        host: "127.0.0.1",
        port: s.primary.port,
        user: "dbplane",
        password: (await readFile(s.passwordRef.path, "utf8")).trim(),
        database: db,
        ssl: { rejectUnauthorized: false },
      });
      await client.connect();
      return client;
    }),
  );
}

describe("scheduled physical backups and point-in-time restore (local driver)", () => {
  let clients: pg.Client[] = [];
  afterAll(async () => {
    for (const c of clients) await c.end().catch(() => {});
  });

  /** One row per shard, committed now; returns the rows' labels. */
  const write = async (label: string) => {
    for (const [shard, c] of clients.entries()) {
      await c.query("INSERT INTO events (label, shard) VALUES ($1, $2)", [label, shard]);
    }
  };
  /** Waits for a complete backup (every shard) not among `seen`; returns its id. */
  const nextBackup = async (seen: readonly string[]) =>
    waitFor(async () => completeIds(await backups()).find((id) => !seen.includes(id)), {
      timeoutMs: 120_000,
      intervalMs: 500,
      what: "the next scheduled backup of every shard",
    });

  it("refuses a bad schedule with 400 naming the field", async () => {
    const bad = await api.call("POST", "/v1/databases", {
      name: "badcron",
      backup: { schedule: { cron: "61 * * * *" }, retain: { count: 1 } },
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("backup.schedule.cron");
    const zone = await api.call("POST", "/v1/databases", {
      name: "badzone",
      backup: { schedule: { cron: "@daily", timezone: "Mars/Olympus" }, retain: { count: 1 } },
    });
    expect(zone.status).toBe(400);
    expect(JSON.stringify(zone.body)).toContain("backup.schedule.timezone");
  });

  it("registers the schedule with the scheduler, which fires backups; retention deletes the oldest", async () => {
    // Made without a policy: setting one later makes its running servers archive.
    const created = await api.call("POST", "/v1/databases", {
      name,
      shards: 2,
      postgresVersion: 15,
      resources: { memory: "128Mi" },
    });
    expect(created.status).toBe(202);
    const succeeded = (operationId: string) =>
      waitFor(
        async () => (await api.call("GET", `/v1/operations/${operationId}`)).body.state === "succeeded",
        { timeoutMs: 120_000, what: `operation ${operationId} to succeed` },
      );
    await succeeded(created.body.operationId);
    const badPolicy = await api.call("PUT", `/v1/databases/${name}/backup`, {
      schedule: { cron: "* 25 * * *" },
      retain: { count: 2 },
    });
    expect(badPolicy.status).toBe(400);
    expect(JSON.stringify(badPolicy.body)).toContain("schedule.cron");
    // Every 10 seconds (seconds-first cron), 3 kept.
    const policy = await api.call("PUT", `/v1/databases/${name}/backup`, {
      schedule: { cron: "*/10 * * * * *", timezone: "Europe/Berlin" },
      retain: { count: 3 },
    });
    expect(policy.status).toBe(202);
    await succeeded(policy.body.operationId);
    const job = await waitFor(
      async () => {
        const r = await schedulerApi.call("GET", "/v1/jobs/dbplane-backup-ledger");
        return r.status === 200 && r.body;
      },
      { timeoutMs: 30_000, what: "the scheduler to hold the backup job" },
    );
    expect(job).toMatchObject({
      owner: "service:dbplane/provisioner",
      definition: {
        schedule: { kind: "cron", expression: "*/10 * * * * *", timeZone: "Europe/Berlin" },
        target: { subject: "dbplane.cmd.provisioner.run-backup", payload: { name } },
      },
    });
    clients = await shardClients(name);
    for (const c of clients) {
      expect((await c.query("SHOW archive_mode")).rows[0].archive_mode).toBe("on");
      await c.query("CREATE TABLE events (label text, shard int, at timestamptz DEFAULT clock_timestamp())");
    }
  }, 180_000);

  let pointInTime = "";
  const seen: string[] = [];
  it("writes rows across several backups", async () => {
    await write("a");
    seen.push(await nextBackup(seen));
    await write("b");
    seen.push(await nextBackup(seen));
    await write("c");
    seen.push(await nextBackup(seen));
    // The moment to restore to: after c committed on every shard, before d.
    pointInTime = (
      (await clients[0]!.query("SELECT clock_timestamp() AS t")).rows[0].t as Date
    ).toISOString();
    await write("d");
    seen.push(await nextBackup(seen));
    // No more backups while restoring (one may still be running): with 3 kept, the backup before
    // the point in time (seen[2]) stays whatever finishes now.
    scheduler.kill("SIGTERM");
    await scheduler.exited;
    // Retention (count 3) deleted the first backup: its rows and its files.
    const after = await waitFor(
      async () => {
        const b = await backups();
        return !b.items.some((i) => i.backupId === seen[0]) && b;
      },
      { timeoutMs: 60_000, what: "the oldest backup to be deleted" },
    );
    expect(completeIds(after)).toEqual(expect.arrayContaining([seen[2], seen[3]]));
    expect(after.items.every((i) => i.state !== "completed" || i.stopLsn)).toBe(true);
    expect(after.window && Date.parse(after.window.earliest) < Date.parse(pointInTime)).toBe(true);
    for (const shard of [0, 1]) {
      const base = await readdir(join(world.dataDir, "backups", name, `shard-${shard}`, "base"));
      expect(base).not.toContain(seen[0]);
    }
  }, 300_000);

  it("restores every shard to the point in time into a new database", async () => {
    const bad = await api.call("POST", `/v1/databases/${name}/restores`, {
      pointInTime: new Date(Date.now() + 3_600_000).toISOString(),
      into,
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("pointInTime");

    const restore = await api.call("POST", `/v1/databases/${name}/restores`, { pointInTime, into });
    expect(restore.status).toBe(202);
    const op = await waitFor(
      async () => {
        const r = await api.call("GET", `/v1/operations/${restore.body.operationId}`);
        return r.body.state !== "pending" && r.body;
      },
      { timeoutMs: 120_000, what: "the restore to finish" },
    );
    expect(op.state).toBe("succeeded");
    const restored = await shardClients(into);
    try {
      for (const [shard, c] of restored.entries()) {
        const { rows } = await c.query("SELECT label, shard FROM events ORDER BY label");
        expect(rows).toEqual(["a", "b", "c"].map((label) => ({ label, shard })));
      }
      // The source keeps every row.
      const { rows } = await clients[1]!.query("SELECT label FROM events ORDER BY label");
      expect(rows.map((r) => r.label)).toEqual(["a", "b", "c", "d"]);
    } finally {
      for (const c of restored) await c.end();
    }
  }, 300_000);
});
