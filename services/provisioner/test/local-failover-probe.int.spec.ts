import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answers } from "../src/drivers/local/local-failover.ts";
import type { ServerContext } from "../src/drivers/local/local-server.ts";

// The failover probe against the shared PostgreSQL (127.0.0.1:5432) and a port nothing listens on.
let dir: string;
const ctx = { password: "not-the-password", ca: undefined } as unknown as ServerContext;
/** A data directory as far as the probe reads it: the port in its dbplane.conf. */
const server = async (name: string, port: number) => {
  const dataDir = join(dir, name);
  await mkdir(dataDir, { recursive: true });
  await writeFile(join(dataDir, "dbplane.conf"), `port = ${port}\n`);
  return dataDir;
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dbplane-probe-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("the failover probe", () => {
  it("counts a server that answers with an error (here: a refused password) as up", async () => {
    const port = Number(new URL(process.env.DBPLANE_PG_URL ?? "postgres://127.0.0.1:5432").port || 5432);
    expect(await answers(await server("alive", port), ctx, 2_000)).toBe(true);
  });

  it("counts a refused connection as down", async () => {
    expect(await answers(await server("dead", await freePort()), ctx, 2_000)).toBe(false);
  });
});
