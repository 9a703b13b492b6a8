import { randomBytes } from "node:crypto";
import {
  createTestDatabase,
  makeSelfSignedCert,
  type TestDatabase,
  testServerUrls,
  uniqueName,
} from "@dbplane/testkit";
import pg from "pg";
import { type BackendKey, createWireServer, type WireServer } from "../src/index.ts";
import { openPassthrough, type PassthroughRecord } from "./passthrough-session.ts";

/** A wire server relaying to a fresh database, with one application role that can log in. */
export interface PassthroughFixture {
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string;
  /** Every session relayed so far, in the order they started. */
  readonly sessions: PassthroughRecord[];
  readonly cancels: BackendKey[];
  /** A client for checking the database directly, bypassing the wire server. */
  readonly admin: pg.Client;
  stop(): Promise<void>;
}

/**
 * Starts the fixture. The role's verifier is PostgreSQL's own: the role is created with a
 * password in the real server, its `pg_authid.rolpassword` read, and the role dropped again — the
 * upstream connection logs in as the superuser, as the test's stand-in for the router's shards.
 */
export async function startPassthroughFixture(): Promise<PassthroughFixture> {
  const url = new URL(testServerUrls().postgres);
  const database: TestDatabase = await createTestDatabase("pgwire");
  const admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  const user = uniqueName("app");
  const password = randomBytes(12).toString("hex");
  const verifier = await postgresVerifier(admin, user, password);
  const tls = await makeSelfSignedCert();
  const sessions: PassthroughRecord[] = [];
  const cancels: BackendKey[] = [];
  const upstream = {
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    database: database.name,
  };
  const server: WireServer = createWireServer({
    authenticate: (startup) => ({
      verifier: startup.user === user ? verifier : undefined,
      databaseExists: startup.database === database.name,
    }),
    onSession: (session) => openPassthrough(session, upstream, (entry) => sessions.push(entry)),
    onCancel: (key) => cancels.push(key),
    tls: { cert: tls.cert, key: tls.key },
    serverParameters: { server_version: "15.0" },
  });
  const { port } = await server.listen(0);
  return {
    port,
    database: database.name,
    user,
    password,
    sessions,
    cancels,
    admin,
    async stop() {
      await server.close();
      await admin.end();
      await database.drop();
      await tls.remove();
    },
  };
}

async function postgresVerifier(admin: pg.Client, role: string, password: string): Promise<string> {
  await admin.query("SET password_encryption = 'scram-sha-256'");
  await admin.query(`CREATE ROLE "${role}" LOGIN PASSWORD '${password}'`);
  try {
    const { rows } = await admin.query<{ rolpassword: string }>(
      "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
      [role],
    );
    return rows[0]!.rolpassword;
  } finally {
    await admin.query(`DROP ROLE "${role}"`);
  }
}
