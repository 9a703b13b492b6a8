import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freeLocalPort, ownedDir, writeOwned } from "../src/drivers/local/cluster-files.ts";
import {
  ensureRunning,
  isRunning,
  type ServerContext,
  stopServer,
  writeSettings,
} from "../src/drivers/local/local-server.ts";
import { PgBinaryFinder } from "../src/drivers/local/pg-binaries.ts";
import { runProgram } from "../src/drivers/local/run-program.ts";
import { resolveServerUser } from "../src/drivers/local/server-user.ts";

// `ensureRunning` asks whether a stopped server may start only once it has seen it stopped, and
// starts nothing when the answer is no. A primary killed while a reconcile pass ran used to pass
// the guard (checked first, while it still ran) and be started again by the same pass: the crash
// was hidden and no failover happened.
let dir: string;
let dataDir: string;
let ctx: ServerContext;

beforeAll(async () => {
  const [bins] = await new PgBinaryFinder(process.env.DBPLANE_PG_BIN_DIR).all();
  if (!bins) throw new Error("no PostgreSQL programs (apt-get install postgresql)");
  const user = await resolveServerUser("postgres");
  dir = await mkdtemp(join(tmpdir(), "dbplane-ensure-running-"));
  await chmod(dir, 0o711);
  // Its log goes beside it, as in a shard directory: the server's user owns the parent too.
  await ownedDir(join(dir, "shard"), user);
  dataDir = join(dir, "shard", "server");
  await ownedDir(dataDir, user);
  await writeOwned(join(dir, "pw"), "ensure-running-password", user);
  await runProgram(
    bins.path("initdb"),
    ["-D", dataDir, "-U", "dbplane", `--pwfile=${join(dir, "pw")}`, "-N"],
    {
      user,
      timeoutMs: 120_000,
    },
  );
  ctx = { bins, user, password: "ensure-running-password", memory: undefined, ca: undefined };
  await writeSettings(dataDir, ctx, await freeLocalPort());
}, 120_000);
afterAll(async () => {
  if (ctx) await stopServer(dataDir, ctx);
  await rm(dir, { recursive: true, force: true });
});

describe("ensureRunning", () => {
  it("asks before starting a stopped server, and starts nothing when refused", async () => {
    const refusal = new Error("left to the failover watcher");
    let asked = 0;
    await expect(
      ensureRunning(dataDir, ctx, async () => {
        asked++;
        throw refusal;
      }),
    ).rejects.toBe(refusal);
    expect(asked).toBe(1);
    expect(await isRunning(dataDir, ctx)).toBe(false);

    await ensureRunning(dataDir, ctx, async () => {
      asked++;
    });
    expect(asked).toBe(2);
    expect(await isRunning(dataDir, ctx)).toBe(true);
  }, 60_000);

  it("does not ask for a server that runs", async () => {
    let asked = 0;
    await ensureRunning(dataDir, ctx, async () => {
      asked++;
      throw new Error("must not be asked");
    });
    expect(asked).toBe(0);
  }, 30_000);
});
