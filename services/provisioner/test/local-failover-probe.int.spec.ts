import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answers } from "../src/drivers/local/local-failover.ts";
import type { ServerContext } from "../src/drivers/local/local-server.ts";

// The failover probe against servers that answer in different ways: the shared PostgreSQL
// (127.0.0.1:5432, another data directory), a port nothing listens on, and a fake server that
// refuses every connection with one SQLSTATE.
let dir: string;
const servers: Server[] = [];
const ctx = { password: "not-the-password", ca: undefined } as unknown as ServerContext;
/** A data directory as far as the probe reads it: the port in its dbplane.conf. */
const dataDirOn = async (name: string, port: number) => {
  const dataDir = join(dir, name);
  await mkdir(dataDir, { recursive: true });
  await writeFile(join(dataDir, "dbplane.conf"), `port = ${port}\n`);
  return dataDir;
};

/** A server that answers every startup with one FATAL ErrorResponse of `code`. */
async function refusingWith(code: string): Promise<number> {
  const field = (type: string, value: string) =>
    Buffer.concat([Buffer.from(type), Buffer.from(`${value}\0`)]);
  const body = Buffer.concat([
    field("S", "FATAL"),
    field("C", code),
    field("M", `refused with ${code}`),
    Buffer.from([0]),
  ]);
  const length = Buffer.alloc(4);
  length.writeInt32BE(body.length + 4);
  const message = Buffer.concat([Buffer.from("E"), length, body]);
  const server = createServer((socket) => {
    socket.once("data", () => socket.end(message));
    socket.on("error", () => {});
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dbplane-probe-"));
});
afterAll(async () => {
  for (const s of servers) s.close();
  await rm(dir, { recursive: true, force: true });
});

describe("the failover probe", () => {
  it("counts a server that is alive but refuses for now (starting up, out of connections) as up", async () => {
    for (const code of ["57P03", "53300"])
      expect(await answers(await dataDirOn(`busy-${code}`, await refusingWith(code)), ctx, 2_000)).toBe(true);
  });

  it("counts another server on the port as down: one refusing our login, or serving another data directory", async () => {
    // After a crash, another cluster can take the freed port: it refuses this directory's password.
    for (const code of ["28P01", "28000", "3D000"])
      expect(await answers(await dataDirOn(`other-${code}`, await refusingWith(code)), ctx, 2_000)).toBe(
        false,
      );
    // The shared server lets anyone in (trust) but its data_directory is not this one.
    const port = Number(new URL(process.env.DBPLANE_PG_URL ?? "postgres://127.0.0.1:5432").port || 5432);
    expect(await answers(await dataDirOn("shared", port), ctx, 2_000)).toBe(false);
  });

  it("counts a refused connection as down", async () => {
    expect(await answers(await dataDirOn("dead", await freePort()), ctx, 2_000)).toBe(false);
  });
});
