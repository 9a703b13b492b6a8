import { spawn } from "node:child_process";
import { createScramVerifier } from "@dbplane/pgwire";
import { KEYSPACE_END } from "@dbplane/sharding";
import { createPostgresServer, type PostgresServer, waitFor } from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ensureReshardAccess,
  RangeMove,
  type RangeMoveSpec,
  RESHARD_ROLE,
  reshardAccessPsql,
} from "../src/index.ts";
import { rowsOfRange, SEED_ROWS, seed, specFor, sql, startWriter, testLogger } from "./move-world.ts";

// The reshard as the provisioner sets it up: tables owned by the database's owner role, and the
// reshard logging in as dbplane_reshard — no superuser anywhere on the router's side.
const OWNER = "shop_owner";
const SCHEMA = "lp";

let source: PostgresServer;
let target: PostgresServer;

async function asSuperuser(server: PostgresServer, work: (client: pg.Client) => Promise<void>) {
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}

/** The application's tables, owned by its owner role (the provisioner's app role). */
async function createOwnedTables(server: PostgresServer): Promise<void> {
  await sql(
    server,
    `CREATE ROLE ${OWNER} NOLOGIN;
     GRANT CREATE ON DATABASE postgres TO ${OWNER};
     CREATE SCHEMA ${SCHEMA} AUTHORIZATION ${OWNER};
     CREATE TABLE ${SCHEMA}.accounts (id bigint PRIMARY KEY, balance int NOT NULL, note text);
     CREATE TABLE ${SCHEMA}.users (email text PRIMARY KEY, name text NOT NULL);
     CREATE TABLE ${SCHEMA}.plans (id int PRIMARY KEY, title text NOT NULL);
     ALTER TABLE ${SCHEMA}.accounts OWNER TO ${OWNER};
     ALTER TABLE ${SCHEMA}.users OWNER TO ${OWNER};
     ALTER TABLE ${SCHEMA}.plans OWNER TO ${OWNER};`,
  );
}

/** What the provisioner does on each shard: the reshard role and its wrappers. */
async function provision(server: PostgresServer, publisherPort: number): Promise<void> {
  await asSuperuser(server, (client) =>
    ensureReshardAccess(client, {
      password: "reshard-password",
      owner: OWNER,
      publishers: [{ hostPattern: String.raw`^127\.0\.0\.1$`, port: publisherPort }],
    }),
  );
}

function asReshardRole(spec: RangeMoveSpec): RangeMoveSpec {
  const login = { user: RESHARD_ROLE, password: "reshard-password" };
  return { ...spec, source: { ...spec.source, ...login }, target: { ...spec.target, ...login } };
}

async function reshardClient(server: PostgresServer): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: server.url.replace("//postgres@", `//${RESHARD_ROLE}@`) });
  await client.connect();
  return client;
}

beforeAll(async () => {
  [source, target] = await Promise.all([createPostgresServer(), createPostgresServer()]);
  await Promise.all([createOwnedTables(source), createOwnedTables(target)]);
  await provision(source, source.port);
  await provision(target, source.port);
  await provision(target, source.port); // idempotent: a second reconcile repairs, never fails
});
afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
});

describe("RangeMove without a superuser", () => {
  it("a reconcile pass that finds the access as it should be writes nothing, and repairs a change", async () => {
    const secret = async () =>
      (
        await sql<{ s: string }>(target, "SELECT rolpassword AS s FROM pg_authid WHERE rolname = $1", [
          RESHARD_ROLE,
        ])
      )[0]!.s;
    const before = await secret();
    await provision(target, source.port);
    // Compared as booleans: a failure must not print the verifier into the test output.
    expect((await secret()) === before).toBe(true);
    await sql(target, `ALTER ROLE ${RESHARD_ROLE} SUPERUSER; DELETE FROM dbplane_reshard.publishers`);
    await provision(target, source.port);
    expect(
      await sql(target, "SELECT rolsuper AS superuser FROM pg_roles WHERE rolname = $1", [RESHARD_ROLE]),
    ).toEqual([{ superuser: false }]);
    expect(await sql(target, "SELECT host_pattern, port FROM dbplane_reshard.publishers")).toEqual([
      { host_pattern: String.raw`^127\.0\.0\.1$`, port: source.port },
    ]);
  });

  it("the reshard role is no superuser, and can run subscription commands only through the wrappers", async () => {
    expect(
      await sql(
        target,
        `SELECT rolsuper AS superuser, rolcreaterole AS createrole, rolreplication AS replication,
                rolbypassrls AS bypassrls FROM pg_roles WHERE rolname = $1`,
        [RESHARD_ROLE],
      ),
    ).toEqual([{ superuser: false, createrole: false, replication: true, bypassrls: true }]);
    const client = await reshardClient(target);
    try {
      await expect(
        client.query(
          "CREATE SUBSCRIPTION evil CONNECTION 'host=127.0.0.1' PUBLICATION p WITH (connect = false)",
        ),
      ).rejects.toMatchObject({ code: "42501" });
      // A publisher off the allow-list: a superuser-owned apply worker would write what it sends.
      await expect(
        client.query("SELECT dbplane_reshard.create_subscription($1, $2, $3, $4, $5, $6, $7)", [
          "dbplane_rs_evil",
          "10.0.0.66",
          5432,
          "postgres",
          RESHARD_ROLE,
          "x",
          "x",
        ]),
      ).rejects.toMatchObject({ code: "42501", message: expect.stringContaining("allow-list") });
      await expect(
        client.query("SELECT dbplane_reshard.create_subscription($1, $2, $3, $4, $5, $6, $7)", [
          "dbplane_rs_evil",
          "127.0.0.1",
          source.port + 1,
          "postgres",
          RESHARD_ROLE,
          "x",
          "x",
        ]),
      ).rejects.toMatchObject({ code: "42501" });
      // Only a reshard's subscriptions: not one the operator made.
      await expect(
        client.query("SELECT dbplane_reshard.alter_subscription($1, $2)", ["operators_sub", "drop"]),
      ).rejects.toMatchObject({ code: "42501" });
    } finally {
      await client.end();
    }
  });

  it("copies, catches up, verifies, cuts over and cleans up as the reshard role, under concurrent writes", async () => {
    const [from, to] = [0n, KEYSPACE_END];
    await seed(source, SCHEMA);
    const spec = asReshardRole(specFor("lp", source, target, SCHEMA, from, to));
    const move = new RangeMove(spec, testLogger);
    const writer = startWriter(source, SCHEMA);
    await move.start();
    // No role of its own: the subscription logs in as the reshard role, which cannot create one.
    expect(await sql(source, "SELECT rolname FROM pg_roles WHERE rolname = $1", [move.name])).toEqual([]);
    await waitFor(async () => (await move.progress()).tables.every((t) => t.state === "replicating"), {
      timeoutMs: 30_000,
      what: "copy done",
    });
    const atCopyDone = writer.ops();
    await waitFor(() => writer.ops() >= atCopyDone + 20, { what: "writes after the copy" });
    await writer.stop();

    await move.waitApplied(await move.sourceLsn(), 20_000);
    await move.stopApplying();
    await move.hideOnSource();
    const snapshots = await move.openSnapshots();
    const result = await snapshots.verify();
    await snapshots.close();
    expect(result.equal).toBe(true);
    expect(result.tables.find((t) => t.table.endsWith("accounts"))?.source.rows).toBeGreaterThan(
      SEED_ROWS / 4,
    );

    const sourceRange = await rowsOfRange(source, SCHEMA, from, to);
    expect(await rowsOfRange(target, SCHEMA, from, to)).toEqual(sourceRange);
    await move.finish();
    expect(await sql(target, "SELECT count(*)::int AS n FROM pg_subscription")).toEqual([{ n: 0 }]);
    expect(await sql(source, "SELECT count(*)::int AS n FROM pg_replication_slots")).toEqual([{ n: 0 }]);
    const deleted = await move.deleteFromSource();
    expect(deleted).toBe(sourceRange.accounts.length + sourceRange.users.length);
    const after = await rowsOfRange(source, SCHEMA, from, to);
    expect(after.accounts).toEqual([]);
    expect(after.users).toEqual([]);
  });

  it("the psql form (the Kubernetes pod's) installs the same access: the provisioner's pass then writes nothing", async () => {
    const publishers = [{ hostPattern: String.raw`^127\.0\.0\.1$`, port: source.port }];
    const script = reshardAccessPsql({ owner: OWNER, publishers });
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        "psql",
        [
          target.url,
          "-X",
          "-q",
          "-v",
          "ON_ERROR_STOP=1",
          "-v",
          `reshard_verifier=${createScramVerifier("psql-pw")}`,
        ],
        { stdio: ["pipe", "ignore", "pipe"] },
      );
      let stderr = "";
      child.stderr.on("data", (d) => {
        stderr += String(d);
      });
      child.on("exit", (code) =>
        code === 0 ? resolve() : reject(new Error(`psql exited ${code}: ${stderr}`)),
      );
      child.stdin.end(script);
    });
    const secret = async () =>
      (
        await sql<{ s: string }>(target, "SELECT rolpassword AS s FROM pg_authid WHERE rolname = $1", [
          RESHARD_ROLE,
        ])
      )[0]!.s;
    const installed = await secret();
    await asSuperuser(target, (client) =>
      ensureReshardAccess(client, { password: "psql-pw", owner: OWNER, publishers }),
    );
    expect((await secret()) === installed).toBe(true);
    const client = await reshardClient(target);
    try {
      await expect(
        client.query("SELECT dbplane_reshard.create_subscription($1, $2, $3, $4, $5, $6, $7)", [
          "dbplane_rs_x",
          "10.0.0.66",
          5432,
          "postgres",
          RESHARD_ROLE,
          "x",
          "x",
        ]),
      ).rejects.toMatchObject({ code: "42501" });
    } finally {
      await client.end();
    }
  });
});
