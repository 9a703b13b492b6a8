import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { type HttpClient, httpClient, waitFor } from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProvisionerWorld, operationSucceeded, type ProvisionerWorld } from "./provisioner-world.ts";

// A name deleted and made again (local driver, real PostgreSQL 15): the new database must not
// archive into, back up beside, or list the backups of the one deleted before it.
let world: ProvisionerWorld;
let api: HttpClient;

beforeAll(async () => {
  world = await createProvisionerWorld();
  const replica = await world.startReplica();
  api = httpClient(replica.base, world.token());
}, 90_000);
afterAll(() => world?.dispose(), 180_000);

const succeeded = (operationId: string) => operationSucceeded(api, operationId);

const createBody = (name: string) => ({
  name,
  shards: 1,
  postgresVersion: 15,
  resources: { memory: "128Mi" },
  backup: { schedule: { cron: "0 0 1 1 *" }, retain: { count: 10 } },
});

const create = async (name: string) => {
  const res = await api.call("POST", "/v1/databases", createBody(name));
  expect(res.status).toBe(202);
  await succeeded(res.body.operationId);
};

const remove = async (name: string) => {
  const res = await api.call("DELETE", `/v1/databases/${name}`);
  expect(res.status).toBe(202);
  await succeeded(res.body.operationId);
};

/** A superuser connection to shard 0's primary of `db`, as the provisioner reports it. */
async function primaryOf(db: string): Promise<pg.Client> {
  const { body } = await api.call("GET", `/v1/databases/${db}`);
  const shard = body.shards[0] as { primary: { port: number }; passwordRef: { path: string } };
  const client = new pg.Client({
    host: "127.0.0.1",
    port: shard.primary.port,
    user: "dbplane",
    password: (await readFile(shard.passwordRef.path, "utf8")).trim(),
    database: db,
    ssl: { rejectUnauthorized: false },
  });
  await client.connect();
  return client;
}

/** Writes, switches segments, and waits until the archiver has stored or failed them. */
async function archiveState(db: string) {
  const client = await primaryOf(db);
  try {
    for (let i = 0; i < 3; i++) {
      await client.query("SELECT txid_current()");
      await client.query("SELECT pg_switch_wal()");
    }
    return await waitFor(
      async () => {
        const { rows } = await client.query(
          "SELECT archived_count::int AS archived, failed_count::int AS failed FROM pg_stat_archiver",
        );
        const row = rows[0] as { archived: number; failed: number };
        return row.archived + row.failed >= 3 && row;
      },
      { timeoutMs: 60_000, what: `the archiver of ${db} to store or fail its segments` },
    );
  } finally {
    await client.end();
  }
}

describe("a database made again under a deleted one's name (local driver)", () => {
  it("archives its own WAL when the deleted one kept no backup: the old archive is moved aside, not reused", async () => {
    const name = "reborn";
    await create(name);
    // The delete flushes the last WAL into the archive: segments of the old server stay there.
    await remove(name);
    const shardDir = join(world.dataDir, "backups", name, "shard-0");
    const oldSegments = (await readdir(join(shardDir, "wal"))).filter((f) => /^[0-9A-F]{24}$/.test(f));
    expect(oldSegments.length).toBeGreaterThan(0);

    await create(name);
    // Its segments start at the same names as the old server's: archived, not refused.
    expect(await archiveState(name)).toMatchObject({ failed: 0 });
    // The old archive is kept, beside, under another name.
    const aside = (await readdir(join(world.dataDir, "backups", name))).filter((e) =>
      e.startsWith("shard-0.orphaned-"),
    );
    expect(aside).toHaveLength(1);
    expect(await readdir(join(world.dataDir, "backups", name, aside[0]!, "wal"))).toEqual(
      expect.arrayContaining(oldSegments),
    );
    // Its backups are its own.
    const b = await api.call("POST", `/v1/databases/${name}/backups`, { backupId: "b1" });
    expect(b.status).toBe(202);
    await succeeded(b.body.operationId);
    const list = await api.call("GET", `/v1/databases/${name}/backups`);
    expect(list.body.items.map((i: { backupId: string }) => i.backupId)).toEqual(["b1"]);
  }, 600_000);

  it("refuses to make a name again while the deleted database's backups are kept (409 saying what to do)", async () => {
    const name = "kept";
    await create(name);
    const client = await primaryOf(name);
    await client.query("CREATE TABLE t (v text)");
    await client.query("INSERT INTO t VALUES ('old')");
    await client.end();
    const b = await api.call("POST", `/v1/databases/${name}/backups`, { backupId: "b1" });
    await succeeded(b.body.operationId);
    await remove(name);

    const again = await api.call("POST", "/v1/databases", createBody(name));
    expect(again.status).toBe(409);
    const text = JSON.stringify(again.body);
    expect(text).toContain("kept backups");
    expect(text).toContain(`/v1/databases/${name}/restores`);
    // Nothing changed: still deleted, its backups listed as before.
    expect((await api.call("GET", `/v1/databases/${name}`)).status).toBe(404);
    const list = await api.call("GET", `/v1/databases/${name}/backups`);
    expect(list.body.items).toMatchObject([{ backupId: "b1", state: "completed" }]);
  }, 600_000);
});
