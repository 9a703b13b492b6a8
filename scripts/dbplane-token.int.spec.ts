import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { verifyToken } from "@dbplane/service-kit";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const script = join(import.meta.dirname, "dbplane-token.ts");
const SECRET = "a-token-script-secret-0123456789abcdef";

async function mint(args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, [script, ...args], {
      env: { ...process.env, DBPLANE_JWT_SECRET: SECRET },
    });
    return { code: 0, stdout: stdout.trim(), stderr };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout.trim(), stderr: failed.stderr };
  }
}

describe("scripts/dbplane-token", () => {
  it("mints a token the services accept, with the scopes, subject and lifetime asked for", async () => {
    const minted = await mint([
      "--scope",
      "db:shop:query",
      "--scope",
      "read",
      "--ttl",
      "90",
      "--sub",
      "alice",
    ]);
    expect(minted.code).toBe(0);
    const principal = await verifyToken(SECRET, minted.stdout);
    expect(principal).toMatchObject({ sub: "alice", scopes: ["db:shop:query", "read"] });
    expect(principal.exp - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(90);
  });

  it("refuses an unknown scope, no scope and a bad lifetime, saying why", async () => {
    for (const [args, why] of [
      [["--scope", "db:shop:everything"], 'unknown scope "db:shop:everything"'],
      [[], "give at least one --scope"],
      [["--scope", "read", "--ttl", "forever"], "--ttl must be"],
    ] as const) {
      const minted = await mint([...args]);
      expect(minted.code).toBe(2);
      expect(minted.stdout).toBe("");
      expect(minted.stderr).toContain(why);
    }
  });
});
