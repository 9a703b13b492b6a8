// Issue 16, item 3 (review finding 3): caller SQL through the router runs as the database's
// application role, never as the provisioner's superuser — so the server's programs and files
// are out of reach (42501), which is what made `COPY … FROM PROGRAM 'id'` an OS command before.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, createRouterWorld, type RouterWorld, waitForMap } from "../router-world.ts";

const DB = "nosuper";
let world: RouterWorld;
let base: string;
const keyed = (sql: string) =>
  api(base, world.token(), "POST", `/v1/databases/${DB}/query`, { sql, key: { type: "bigint", value: 1 } });

beforeAll(async () => {
  world = await createRouterWorld(2, { application: true });
  base = (await world.startReplica()).base;
  await world.announce(DB);
  await waitForMap(base, world.token(), DB);
});
afterAll(async () => {
  await world?.dispose();
});

describe("the router's sessions are the application role's", () => {
  it("runs caller SQL as the application role, not a superuser", async () => {
    const who = await keyed(
      "SELECT current_user AS u, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS s",
    );
    expect(who.status).toBe(200);
    expect(who.body.rows).toEqual([{ u: world.application!.user, s: false }]);
  });

  it.each([
    ["COPY (SELECT 1) TO PROGRAM 'id'"],
    ["SELECT pg_read_file('/etc/passwd')"],
    ["SELECT pg_ls_dir('.')"],
  ])("refuses %s with 42501", async (sql) => {
    const res = await keyed(sql);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ sqlstate: "42501" });
  });

  it("refuses a program in a transaction too, and the transaction ends", async () => {
    const res = await api(base, world.token(), "POST", `/v1/databases/${DB}/transaction`, {
      key: { type: "bigint", value: 1 },
      statements: [{ sql: "CREATE TEMP TABLE o (l text)" }, { sql: "COPY o FROM PROGRAM 'id'" }],
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ sqlstate: "42501" });
  });
});
