// The `dbplane` executable run as a user runs it (./scripts/dbplane, a child process) against a
// running provisioner (local driver: real PostgreSQL clusters), router, scheduler and
// projection-coordinator on one bus: log in, create a database and follow it to ready, query and
// migrate it, list jobs as JSON, create a job and read its runs, tail the event its trigger
// caused, split a shard to completion, and fail clearly — one line and a documented exit code —
// on a bad flag, a 401, a bad field, a 404.
import { spawnSync } from "node:child_process";
import { stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, type CliWorld, createCliWorld } from "./cli-world.ts";

const DB = "clishop";
/**
 * A test that makes, restores or splits real PostgreSQL servers through every service: its own
 * waits (a restore's operation, the router routing the result) add up past vitest's 60 s default
 * on a loaded machine (CI beside other work: load 20+ on 2 cores).
 */
const HEAVY_MS = 180_000;
let world: CliWorld;
let token: string;

/** What a script sees on failure: exactly one line on stderr. */
function oneLine(run: CliRun): string {
  const lines = run.stderr.trimEnd().split("\n");
  expect(lines, run.stderr).toHaveLength(1);
  return lines[0]!;
}

beforeAll(async () => {
  world = await createCliWorld();
  token = world.token();
}, 120_000);
afterAll(async () => {
  // Should the delete test not have run: deleting the database stops its servers.
  if (world) {
    const gone = await world.cli(["db", "delete", DB, "--delete-volumes"]);
    if (gone.code !== 0 && gone.code !== 3) console.error(gone.stderr);
  }
  await world?.dispose();
}, 120_000);

describe("dbplane, run as a user runs it", () => {
  it("logs in: a context in a 0600 config file, the token never printed", async () => {
    const tokenFile = join(world.configHome, "..", "token");
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    const login = await world.cli([
      "login",
      "test",
      `--provisioner-url=${world.provisioner.base}`,
      `--router-url=${world.router.base}`,
      `--scheduler-url=${world.scheduler.base}`,
      `--projection-coordinator-url=${world.coordinator.base}`,
      `--token-file=${tokenFile}`,
    ]);
    expect(login.code, login.stderr).toBe(0);
    const config = join(world.configHome, "dbplane", "config.json");
    expect((await stat(config)).mode & 0o777).toBe(0o600);
    const list = await world.cli(["context", "list", "-o", "json"]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toMatchObject({
      currentContext: "test",
      items: [{ name: "test", current: true, token: true, services: { router: world.router.base } }],
    });
    for (const run of [login, list]) expect(run.stdout + run.stderr).not.toContain(token);
  });

  it(
    "creates a database and follows the operation to ready, printing plain progress lines off a TTY",
    async () => {
      const created = await world.cli([
        "db",
        "create",
        DB,
        "--shards=2",
        "--postgres-version=15",
        "--storage=1Gi",
        "--sharded-table=orders:id:bigint",
      ]);
      expect(created.code, created.stderr).toBe(0);
      expect(created.stderr).toMatch(
        new RegExp(`^create ${DB}: (requested|provisioning), \\d/2 shards ready$`, "m"),
      );
      expect(created.stderr).toContain(`done: create ${DB}: succeeded`);
      // No spinner's control characters when stderr is not a terminal.
      expect(created.stderr).not.toContain("\x1b[");
      expect(created.stdout).toContain(`${DB}: ready`);
      const got = await world.cli(["db", "get", DB, "-o", "json"]);
      expect(JSON.parse(got.stdout)).toMatchObject({
        name: DB,
        state: "ready",
        shards: [{ state: "ready" }, { state: "ready" }],
      });
    },
    HEAVY_MS,
  );

  it("shows every service ready and the fleet at a glance", async () => {
    // The fleet read model follows the provisioner's events: wait until it holds the database.
    await waitFor(
      async () => {
        const s = await world.cli(["status", "-o", "json"]);
        const fleet = s.code === 0 ? JSON.parse(s.stdout).fleet.databases : undefined;
        return fleet?.byState?.ready === 1 && fleet.shards === 2;
      },
      { what: "the fleet read model holding the ready database", timeoutMs: 60_000 },
    );
    const status = await world.cli(["status", "-o", "json"]);
    expect(status.code, status.stderr).toBe(0);
    const doc = JSON.parse(status.stdout);
    expect(doc.services.map((s: { service: string; ready: boolean }) => [s.service, s.ready])).toEqual([
      ["provisioner", true],
      ["router", true],
      ["scheduler", true],
      ["projection-coordinator", true],
    ]);
    expect(doc.fleet).toEqual({
      databases: { total: 1, byState: { ready: 1 }, unhealthy: [], shards: 2, hotShards: 0, apps: 0 },
      projections: {
        total: 2,
        maxLagEvents: expect.any(Number),
        maxLagSeconds: expect.any(Number),
        parked: 0,
      },
      collectors: { unavailable: "no URL for the collector" },
    });
    const table = await world.cli(["status"]);
    expect(table.stdout).toMatch(/^provisioner\s+yes\s/m);
    expect(table.stdout).toMatch(/^databases\s+1 \(1 ready\); shards 2, 0 hot; unhealthy none; apps 0$/m);
    expect(table.stdout).toMatch(/^projections\s+2; lag ≤ \d+ events \(\d+(\.\d+)? s\); parked events 0$/m);
    expect(table.stdout).toMatch(/^collectors\s+unavailable: no URL for the collector$/m);
  });

  it("queries it by key and across every shard, and draws its keyspace", async () => {
    // The router learns the database from the provisioner's event: wait until it routes it.
    await waitFor(async () => (await world.cli(["db", "shards", DB, "-o", "json"])).code === 0, {
      what: `the router routing ${DB}`,
      timeoutMs: 60_000,
    });
    const keyed = await world.cli(["query", DB, "--key", "bigint:42", "-o", "json", "SELECT 42 AS answer"]);
    expect(keyed.code, keyed.stderr).toBe(0);
    expect(JSON.parse(keyed.stdout)).toMatchObject({ database: DB, rows: [{ answer: 42 }] });
    const scatter = await world.cli(["query", DB, "SELECT current_database() AS db"]);
    expect(scatter.code, scatter.stderr).toBe(0);
    // SQL's column names as they are, one row per shard, the route on stderr.
    expect(scatter.stdout.split("\n")[0]).toBe("db");
    expect(scatter.stdout.trimEnd().split("\n")).toHaveLength(3);
    expect(scatter.stderr).toContain("(2 rows from every shard");
    const shards = await world.cli(["db", "shards", DB]);
    expect(shards.stdout).toContain(`keyspace |${"0".repeat(32)}${"1".repeat(32)}|`);
  });

  it("migrates every shard from a .sql file, a rerun being a no-op, and the table is there to query", async () => {
    const file = join(world.configHome, "..", "001-orders.sql");
    await writeFile(file, "CREATE TABLE orders (id bigint PRIMARY KEY, note text);\n");
    const first = await world.cli(["migrate", DB, file, "-o", "json"]);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({
      database: DB,
      id: expect.stringMatching(/^001-orders-[0-9a-f]{12}$/),
      complete: true,
      shards: [{ status: "applied" }, { status: "applied" }],
    });
    const again = await world.cli(["migrate", DB, file]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^0\s+already-applied/m);
    const counted = await world.cli(["query", DB, "-o", "json", "SELECT count(*)::int AS n FROM orders"]);
    expect(counted.code, counted.stderr).toBe(0);
    expect(JSON.parse(counted.stdout).rows).toEqual([{ n: 0 }, { n: 0 }]);
  });

  it("backs up every shard, following the operation, and lists the backups", async () => {
    const backup = await world.cli(["db", "backup", DB, "--backup-id", "cli-b1"]);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stderr).toContain(`done: backup ${DB}: succeeded`);
    const list = await world.cli(["db", "backups", DB, "-o", "json"]);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).items).toEqual([
      expect.objectContaining({ backupId: "cli-b1", shard: 0, state: "completed" }),
      expect.objectContaining({ backupId: "cli-b1", shard: 1, state: "completed" }),
    ]);
  });

  it(
    "sets a backup policy and takes a physical backup the restore window covers",
    async () => {
      const bad = await world.cli(["db", "backup-policy", DB, "--schedule", "@daily"]);
      expect([bad.code, oneLine(bad)]).toEqual([
        2,
        "dbplane: give exactly one of --retain-count or --retain-days",
      ]);
      const policy = await world.cli([
        "db",
        "backup-policy",
        DB,
        "--schedule",
        "@daily",
        "--retain-count",
        "3",
      ]);
      expect(policy.code, policy.stderr).toBe(0);
      const put = await world.cli([
        "query",
        DB,
        "--key",
        "bigint:7",
        "INSERT INTO orders VALUES (7, 'kept')",
      ]);
      expect(put.code, put.stderr).toBe(0);
      const backup = await world.cli(["db", "backup", DB, "--backup-id", "cli-phys"]);
      expect(backup.code, backup.stderr).toBe(0);
      const list = JSON.parse((await world.cli(["db", "backups", DB, "-o", "json"])).stdout);
      expect(list.items.filter((b: { backupId: string }) => b.backupId === "cli-phys")).toEqual([
        expect.objectContaining({ shard: 0, state: "completed", startLsn: expect.any(String) }),
        expect.objectContaining({ shard: 1, state: "completed", startLsn: expect.any(String) }),
      ]);
      const table = await world.cli(["db", "backups", DB]);
      expect(table.stdout).toMatch(/^restorable from \S+ to \S+$/m);
    },
    HEAVY_MS,
  );

  it(
    "restores the physical backup into a new database it follows to ready, then turns the policy off",
    async () => {
      const restored = await world.cli(["db", "restore", DB, "--into", `${DB}r`, "--backup-id", "cli-phys"]);
      expect(restored.code, restored.stderr).toBe(0);
      expect(restored.stderr).toMatch(/^done: .*: succeeded$/m);
      await waitFor(async () => (await world.cli(["db", "shards", `${DB}r`, "-o", "json"])).code === 0, {
        what: `the router routing ${DB}r`,
        timeoutMs: 60_000,
      });
      const rows = await world.cli(["query", `${DB}r`, "-o", "json", "SELECT id::int, note FROM orders"]);
      expect(rows.code, rows.stderr).toBe(0);
      expect(JSON.parse(rows.stdout).rows).toEqual([{ id: 7, note: "kept" }]);
      const gone = await world.cli(["db", "delete", `${DB}r`, "--delete-volumes"]);
      expect(gone.code, gone.stderr).toBe(0);
      const off = await world.cli(["db", "backup-policy", DB, "--off"]);
      expect(off.code, off.stderr).toBe(0);
    },
    HEAVY_MS,
  );

  it("lists jobs as JSON a script can parse", async () => {
    const job = {
      id: "cli-nightly",
      schedule: { kind: "every", everyMs: 3_600_000 },
      target: { subject: world.targetSubject },
    };
    const saved = await fetch(`${world.scheduler.base}/v1/jobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(job),
    });
    expect(saved.status).toBe(201);
    const list = await world.cli(["jobs", "list", "--output", "json"]);
    expect(list.code, list.stderr).toBe(0);
    // Ours, and the one the router scheduled for itself over the bus.
    const ids = JSON.parse(list.stdout).items.map((j: { id: string }) => j.id);
    expect(ids).toEqual(expect.arrayContaining(["cli-nightly", "dbplane-router-rebalance-check"]));
  });

  it("creates a job from a YAML file, triggers it, and lists its runs as JSON; events tail prints the job.fired it caused", async () => {
    const file = join(world.configHome, "..", "job.yaml");
    await writeFile(
      file,
      `id: cli-made\nschedule: {kind: every, everyMs: 3600000}\ntarget: {subject: ${world.targetSubject}}\n`,
    );
    const created = await world.cli([
      "jobs",
      "create",
      "-f",
      file,
      "--payload",
      '{"from":"cli"}',
      "-o",
      "json",
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ id: "cli-made", state: "active" });

    const tail = world.spawnCli([
      "events",
      "tail",
      "--type",
      "io.dbplane.scheduler.job.fired*",
      "--count",
      "1",
      "-o",
      "json",
    ]);
    await waitFor(() => tail.stderr().includes("following events from"), { what: "events tail started" });
    // Woken by the coordinator's change stream, not a polling loop.
    expect(tail.stderr()).toContain("on the audit read model's change stream");
    const fired = await world.cli(["jobs", "trigger", "cli-made"]);
    expect(fired.code, fired.stderr).toBe(0);
    const tailed = await tail.exited;
    expect(tailed.code, tailed.stderr).toBe(0);
    const event = JSON.parse(tailed.stdout.trim());
    expect(event).toMatchObject({
      type: expect.stringMatching(/^io\.dbplane\.scheduler\.job\.fired\./),
      subject: "cli-made",
    });

    const runs = await world.cli(["jobs", "runs", "cli-made", "-o", "json"]);
    expect(runs.code, runs.stderr).toBe(0);
    expect(JSON.parse(runs.stdout).items).toEqual([
      expect.objectContaining({ jobId: "cli-made", manual: true, outcome: "fired" }),
    ]);
    const cancelled = await world.cli(["jobs", "delete", "cli-made", "-o", "json"]);
    expect(JSON.parse(cancelled.stdout)).toMatchObject({ id: "cli-made", state: "cancelled" });
  });

  it("lists the projections and their parked events", async () => {
    const list = await world.cli(["projections", "list", "-o", "json"]);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).items).toEqual([
      expect.objectContaining({ name: "audit", generations: [expect.objectContaining({ state: "active" })] }),
      expect.objectContaining({ name: "fleet", generations: [expect.objectContaining({ state: "active" })] }),
    ]);
    const table = await world.cli(["projections", "list"]);
    expect(table.stdout).toMatch(/^audit\s+\d+\s+\d+\s+active\s/m);
    const parked = await world.cli(["projections", "parked", "-o", "json"]);
    expect(parked.code, parked.stderr).toBe(0);
    expect(JSON.parse(parked.stdout)).toEqual({ items: [], nextAfter: null });
  });

  it("prints a completion script bash can parse", async () => {
    const script = await world.cli(["completion", "bash"]);
    expect(script.code, script.stderr).toBe(0);
    expect(spawnSync("bash", ["-n"], { input: script.stdout }).status).toBe(0);
    expect(script.stdout).toContain("complete -o default -F _dbplane dbplane");
  });

  it("fails with one clear line and a documented exit code", async () => {
    const badFlag = await world.cli(["db", "list", "--bogus"]);
    expect(badFlag.code).toBe(2);
    expect(oneLine(badFlag)).toBe("dbplane: unknown option '--bogus'");

    const forged = await world.cli(["db", "create", "other"], { DBPLANE_TOKEN: "not.a.token" });
    expect(forged.code).toBe(4);
    expect(oneLine(forged)).toMatch(/^dbplane: provisioner: 401 Unauthorized: /);

    const badField = await world.cli(["db", "create", "Not_A_Name"]);
    expect(badField.code).toBe(1);
    expect(oneLine(badField)).toMatch(/^dbplane: provisioner: 400 Bad Request: .*\(body\.name: /);

    const missing = await world.cli(["db", "get", "nosuch"]);
    expect(missing.code).toBe(3);
    expect(oneLine(missing)).toBe('dbplane: provisioner: 404 Not Found: database "nosuch" does not exist');
  });

  it(
    "adds a shard, then splits shard 0 onto it, following the reshard phase by phase to its end",
    async () => {
      const added = await world.cli(["db", "add-shard", DB, "-o", "json"]);
      expect(added.code, added.stderr).toBe(0);
      expect(added.stderr).toContain(`done: add-shard ${DB}: succeeded`);
      expect(JSON.parse(added.stdout).shards).toHaveLength(3);
      await waitFor(
        async () => {
          const shards = await world.cli(["db", "shards", DB, "-o", "json"]);
          return shards.code === 0 && JSON.parse(shards.stdout).shards.length === 3;
        },
        { what: "the router routing shard 2", timeoutMs: 60_000 },
      );
      // Rows for the split to copy (and to find shard 0's median by): one INSERT the router splits,
      // each row to its key's owner.
      const put = await world.cli([
        "query",
        DB,
        "INSERT INTO orders (id, note) VALUES (1, 'x'), (2, 'x'), (3, 'x'), (4, 'x'), (5, 'x'), (6, 'x')",
      ]);
      expect(put.code, put.stderr).toBe(0);

      const split = await world.cli(["db", "split", DB, "--shard", "0", "--to-shard", "2", "-o", "json"]);
      expect(split.code, split.stderr).toBe(0);
      // The CLI names the --to-shard it asked for from the first line, before the router does.
      expect(split.stderr).toMatch(new RegExp(`^split ${DB} 0→2: phase \\d/6 `, "m"));
      expect(split.stderr).toMatch(new RegExp(`^done: split ${DB} 0→2: completed`, "m"));
      const done = JSON.parse(split.stdout);
      expect(done).toMatchObject({ kind: "split", state: "completed", targetShard: 2 });
      const list = await world.cli(["db", "reshards", DB, "-o", "json"]);
      expect(JSON.parse(list.stdout).reshards[0]).toMatchObject({ id: done.id, state: "completed" });
      const shards = await world.cli(["db", "shards", DB, "-o", "json"]);
      expect(
        JSON.parse(shards.stdout).shards.find((s: { shard: number }) => s.shard === 2).ranges,
      ).toHaveLength(1);
    },
    HEAVY_MS,
  );

  it(
    "restores a backup from before the split into the shard map of its moment",
    async () => {
      // A restore to a backup from before the split, once the provisioner has seen the new map, gets
      // the map of the backup's moment: the 2 shards of then, each with its range, rows where they were.
      await waitFor(
        async () =>
          JSON.parse((await world.cli(["db", "get", DB, "-o", "json"])).stdout).shardMap?.version > 1,
        { what: "the provisioner seeing the split's shard map", timeoutMs: 30_000 },
      );
      const back = await world.cli(["db", "restore", DB, "--into", `${DB}x`, "--backup-id", "cli-phys"]);
      expect(back.code, back.stderr).toBe(0);
      const backShards = await waitFor(
        async () => {
          const r = await world.cli(["db", "shards", `${DB}x`, "-o", "json"]);
          return r.code === 0 && JSON.parse(r.stdout).shards;
        },
        { what: `the router routing ${DB}x`, timeoutMs: 60_000 },
      );
      expect(backShards.map((s: { ranges: unknown[] }) => s.ranges.length)).toEqual([1, 1]);
      const kept = await world.cli(["query", `${DB}x`, "-o", "json", "SELECT id::int, note FROM orders"]);
      expect(kept.code, kept.stderr).toBe(0);
      expect(JSON.parse(kept.stdout).rows).toEqual([{ id: 7, note: "kept" }]);
      const gone = await world.cli(["db", "delete", `${DB}x`, "--delete-volumes"]);
      expect(gone.code, gone.stderr).toBe(0);
    },
    HEAVY_MS,
  );

  it("deletes with --no-wait, the database then gone (exit 3)", async () => {
    const deleting = await world.cli(["db", "delete", DB, "--delete-volumes", "--no-wait", "-o", "json"]);
    expect(deleting.code, deleting.stderr).toBe(0);
    expect(deleting.stderr).toBe("");
    expect(JSON.parse(deleting.stdout)).toMatchObject({ database: DB, operationId: expect.any(String) });
    await waitFor(async () => (await world.cli(["db", "get", DB])).code === 3, {
      what: `${DB} deleted`,
      timeoutMs: 60_000,
    });
  });
});
