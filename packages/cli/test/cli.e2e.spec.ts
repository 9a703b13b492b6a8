// The `dbplane` executable run as a user runs it (./scripts/dbplane, a child process) against a
// running provisioner (local driver: real PostgreSQL clusters), router and scheduler on one bus:
// log in, create a database and follow it to ready, query it, list jobs as JSON, and fail
// clearly — one line and a documented exit code — on a bad flag, a 401, a bad field, a 404.
import { stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { waitFor } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, type CliWorld, createCliWorld } from "./cli-world.ts";

const DB = "clishop";
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

  it("creates a database and follows the operation to ready, printing plain progress lines off a TTY", async () => {
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

  it("adds a shard, following it; deletes with --no-wait, the database then gone (exit 3)", async () => {
    const added = await world.cli(["db", "add-shard", DB, "-o", "json"]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stderr).toContain(`done: add-shard ${DB}: succeeded`);
    expect(JSON.parse(added.stdout).shards).toHaveLength(3);

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
