import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PasswordUnavailableError, resolvePassword } from "../src/shards/password-ref.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "router-pw-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("password references", () => {
  it("reads a file reference without its trailing newline", async () => {
    const path = join(dir, "pw");
    await writeFile(path, "s3cret with spaces\n", { mode: 0o600 });
    expect(await resolvePassword({ kind: "file", path })).toBe("s3cret with spaces");
  });

  it("names the problem, never the content, when the password cannot be had", async () => {
    const missing = resolvePassword({ kind: "file", path: join(dir, "absent") });
    await expect(missing).rejects.toBeInstanceOf(PasswordUnavailableError);
    await expect(missing).rejects.toThrow(/ENOENT/);
    await expect(
      resolvePassword({ kind: "secret", namespace: "db", name: "shop-shard-0-credentials", key: "password" }),
    ).rejects.toThrow(/not supported by the router yet/);
  });
});
