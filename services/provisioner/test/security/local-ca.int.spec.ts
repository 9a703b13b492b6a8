import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureLocalCa, ensureServerCertificate } from "../../src/drivers/local/local-tls.ts";

const run = promisify(execFile);
let root: string;
const asMe = { name: "(current user)", uid: undefined, gid: undefined };

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "dbplane-local-ca-"));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe("the local shard CA", () => {
  it("is made once, also when two provisioners sharing a data directory start together", async () => {
    const [a, b] = await Promise.all([ensureLocalCa(join(root, "tls")), ensureLocalCa(join(root, "tls"))]);
    expect(a).toEqual(b);
    const first = await readFile(a!.certPath, "utf8");
    await ensureLocalCa(join(root, "tls"));
    expect(await readFile(a!.certPath, "utf8")).toBe(first);
    expect((await stat(a!.keyPath)).mode & 0o777).toBe(0o600);
    // Nothing half-made is left beside it.
    expect((await readdir(root)).sort()).toEqual(["tls"]);
  });

  it("issues server certificates that verify against it for 127.0.0.1 and localhost, kept once made", async () => {
    const ca = (await ensureLocalCa(join(root, "tls")))!;
    const data = await mkdtemp(join(root, "data-"));
    await ensureServerCertificate(data, ca, asMe);
    const cert = join(data, "server.crt");
    const first = await readFile(cert, "utf8");
    for (const check of [
      ["-verify_ip", "127.0.0.1"],
      ["-verify_hostname", "localhost"],
    ]) {
      const { stdout } = await run("openssl", ["verify", "-CAfile", ca.certPath, ...check, cert]);
      expect(stdout).toContain("OK");
    }
    await expect(
      run("openssl", ["verify", "-CAfile", ca.certPath, "-verify_hostname", "elsewhere.example", cert]),
    ).rejects.toThrow();
    expect((await stat(join(data, "server.key"))).mode & 0o777).toBe(0o600);
    await ensureServerCertificate(data, ca, asMe);
    expect(await readFile(cert, "utf8")).toBe(first);
    expect((await readdir(join(root, "tls"))).sort()).toEqual(["ca.crt", "ca.key"]);
  });
});
