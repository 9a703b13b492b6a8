// createScramVerifier derives exactly what PostgreSQL stores for the same password, salt and
// iteration count, and parseScramVerifier reads PostgreSQL's own pg_authid.rolpassword.
import { randomBytes } from "node:crypto";
import { testServerUrls, uniqueName } from "@dbplane/testkit";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createScramVerifier, parseScramVerifier } from "../src/index.ts";

let admin: pg.Client;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: testServerUrls().postgres });
  await admin.connect();
});

afterAll(async () => {
  await admin?.end();
});

it("matches the verifier PostgreSQL stores for a password", async () => {
  const role = uniqueName("scram");
  const password = randomBytes(16).toString("base64url");
  await admin.query("SET password_encryption = 'scram-sha-256'");
  await admin.query(`CREATE ROLE "${role}" PASSWORD '${password}'`);
  try {
    const { rows } = await admin.query<{ rolpassword: string }>(
      "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
      [role],
    );
    const stored = rows[0]!.rolpassword;
    const { salt, iterations } = parseScramVerifier(stored);
    expect(createScramVerifier(password, { salt, iterations })).toBe(stored);
  } finally {
    await admin.query(`DROP ROLE "${role}"`);
  }
});
