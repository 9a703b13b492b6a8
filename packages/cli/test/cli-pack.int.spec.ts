// The CLI as `npm i -g` installs it: packed by `pack:global` into one tarball without
// dependencies, installed into a private prefix, run by whatever `node` is on PATH (Debian's
// Node 20 on a fresh machine) — no TypeScript, no workspace behind it.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyToken } from "@dbplane/service-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CLI_ROOT = join(import.meta.dirname, "..");
const SECRET = "cli-pack-tests-secret-long-enough-0123456789";
let dir: string;
let bin: string;
let closedPort: number;

/** A port nothing listens on: one the kernel gave a server that then closed. */
async function closedLocalPort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dbplane-cli-pack-"));
  const tarball = execFileSync(process.execPath, [join(CLI_ROOT, "scripts/pack.ts"), join(dir, "out")], {
    encoding: "utf8",
  }).trim();
  // Offline by construction: the tarball depends on nothing.
  execFileSync("npm", ["install", "--global", "--offline", "--prefix", join(dir, "global"), tarball], {
    stdio: "pipe",
  });
  bin = join(dir, "global", "bin", "dbplane");
  closedPort = await closedLocalPort();
}, 120_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

function dbplane(args: string[], env: Record<string, string> = {}) {
  const base: NodeJS.ProcessEnv = { ...process.env, HOME: dir, XDG_CONFIG_HOME: join(dir, "xdg") };
  for (const name of ["DBPLANE_TOKEN", "DBPLANE_CONTEXT", "DBPLANE_JWT_SECRET"]) delete base[name];
  const run = spawnSync(bin, args, { env: { ...base, ...env }, encoding: "utf8" });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe("dbplane installed with npm i -g", () => {
  it("has no dependencies and no TypeScript in the package", async () => {
    const installed = join(dir, "global", "lib", "node_modules", "@dbplane", "cli");
    const manifest = JSON.parse(await readFile(join(installed, "package.json"), "utf8"));
    expect(manifest.dependencies).toBeUndefined();
    expect(manifest.bin).toEqual({ dbplane: "dist/main.js" });
    const source = JSON.parse(await readFile(join(CLI_ROOT, "package.json"), "utf8"));
    expect(dbplane(["--version"]).stdout.trim()).toBe(source.version);
  });

  it("mints a token the services accept (the lazily loaded part of the bundle)", async () => {
    const run = dbplane(["token", "--scope", "read", "--ttl", "5m", "--sub", "bob"], {
      DBPLANE_JWT_SECRET: SECRET,
    });
    expect(run.code, run.stderr).toBe(0);
    expect(await verifyToken(SECRET, run.stdout.trim())).toMatchObject({ sub: "bob", scopes: ["read"] });
  });

  it("fails in one line with its exit codes: a bad flag 2, an unreachable service 1", () => {
    const bad = dbplane(["db", "list", "--bogus"]);
    expect([bad.code, bad.stderr.trim()]).toEqual([2, "dbplane: unknown option '--bogus'"]);
    const logged = dbplane(["login", "gone", `--provisioner-url=http://127.0.0.1:${closedPort}`]);
    const down = dbplane(["db", "list"]);
    expect(down.code, logged.stderr + down.stderr).toBe(1);
    expect(down.stderr.trim().split("\n")).toEqual([
      `dbplane: provisioner: cannot reach http://127.0.0.1:${closedPort}: ECONNREFUSED`,
    ]);
  });
});
