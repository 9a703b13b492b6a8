// `dbplane` commands that need no running service, run through ./scripts/dbplane: minting a
// token, storing it in a context, switching contexts, and what XDG_CONFIG_HOME changes.
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyToken } from "@dbplane/service-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const LAUNCHER = join(import.meta.dirname, "../../../scripts/dbplane");
const SECRET = "cli-local-tests-secret-long-enough-0123456789";
let home: string;

function cli(args: string[], env: Record<string, string> = {}) {
  const base: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, "xdg") };
  for (const name of ["DBPLANE_TOKEN", "DBPLANE_CONTEXT", "DBPLANE_JWT_SECRET"]) delete base[name];
  const run = spawnSync(LAUNCHER, args, { env: { ...base, ...env }, encoding: "utf8" });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "dbplane-cli-local-"));
});
afterAll(() => rm(home, { recursive: true, force: true }));

describe("dbplane without services", () => {
  it("mints a token the services accept, with the scopes asked for", async () => {
    const run = cli(
      ["token", "--scope", "read", "--scope", "db:shop:query", "--ttl", "10m", "--sub", "alice"],
      {
        DBPLANE_JWT_SECRET: SECRET,
      },
    );
    expect(run.code, run.stderr).toBe(0);
    const principal = await verifyToken(SECRET, run.stdout.trim());
    expect(principal).toMatchObject({ sub: "alice", scopes: ["read", "db:shop:query"] });
  });

  it("refuses an unknown scope in one line, exit 2", () => {
    const run = cli(["token", "--scope", "superuser"], { DBPLANE_JWT_SECRET: SECRET });
    expect(run.code).toBe(2);
    expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(run.stderr).toContain("'superuser' is invalid");
  });

  it("keeps contexts in $XDG_CONFIG_HOME/dbplane/config.json (0600), a saved token never printed", async () => {
    expect(cli(["login", "a", "--host", "10.0.0.1"]).code).toBe(0);
    expect(cli(["login", "b", "--router-url", "https://router.example"]).code).toBe(0);
    const save = cli(["token", "--scope", "admin", "--save"], { DBPLANE_JWT_SECRET: SECRET });
    expect(save.code, save.stderr).toBe(0);
    expect(save.stdout).toBe("");
    const path = join(home, "xdg", "dbplane", "config.json");
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const config = JSON.parse(await readFile(path, "utf8"));
    expect(config.contexts.a.services.provisioner).toBe("http://10.0.0.1:7102");
    expect(config.contexts.b.token).toMatch(/^ey/);
    const list = cli(["context", "list"]);
    expect(list.stdout).not.toContain(config.contexts.b.token);
    expect(list.stdout).toMatch(/^\*\s+b\s+set\s/m);

    expect(cli(["context", "use", "a"]).code).toBe(0);
    expect(JSON.parse(cli(["context", "list", "-o", "json"]).stdout).currentContext).toBe("a");
    const unknown = cli(["context", "use", "nope"]);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toBe('dbplane: no context "nope" (see: dbplane context list)\n');
  });

  it("says which flag is wrong: a URL that is not http(s)", () => {
    const run = cli(["login", "c", "--router-url", "ftp://x"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('dbplane: --router-url: "ftp://x" is not an http(s) URL\n');
  });
});
