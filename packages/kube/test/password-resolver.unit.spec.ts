import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type KubeApiDouble, startKubeApiDouble } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kubeAccess, PasswordResolver, PasswordUnavailableError } from "../src/index.ts";

let dir: string;
let kube: KubeApiDouble;
const secretRef = {
  kind: "secret",
  namespace: "default",
  name: "shop-shard-0-credentials",
  key: "password",
} as const;
const putSecret = (password: string) =>
  kube.put({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: secretRef.name, namespace: "default" },
    data: { password: Buffer.from(password).toString("base64") },
  });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kube-pw-"));
  kube = await startKubeApiDouble();
});
afterAll(async () => {
  await kube?.close();
  await rm(dir, { recursive: true, force: true });
});

const scope = () => ({ dataDir: dir, namespace: "default" });

describe("password references", () => {
  const noKube = () => new PasswordResolver(kubeAccess(undefined, "router", {}), scope());

  it("reads a file reference without its trailing newline", async () => {
    const path = join(dir, "pw");
    await writeFile(path, "s3cret with spaces\n", { mode: 0o600 });
    expect(await noKube().resolve({ kind: "file", path })).toBe("s3cret with spaces");
  });

  it("names the problem, never the content, when the password cannot be had", async () => {
    const missing = noKube().resolve({ kind: "file", path: join(dir, "absent") });
    await expect(missing).rejects.toBeInstanceOf(PasswordUnavailableError);
    await expect(missing).rejects.toThrow(/ENOENT/);
    await expect(noKube().resolve(secretRef)).rejects.toThrow(/no Kubernetes access configured/);
  });

  it("reads a Secret's key, caches it for the TTL, and picks up a rotated password after it", async () => {
    putSecret("first password");
    const cached = new PasswordResolver(kubeAccess(kube.kubeConfigPath, "router", {}), scope(), 60_000);
    expect(await cached.resolve(secretRef)).toBe("first password");
    putSecret("rotated password");
    expect(await cached.resolve(secretRef)).toBe("first password");
    const uncached = new PasswordResolver(kubeAccess(kube.kubeConfigPath, "router", {}), scope(), 0);
    expect(await uncached.resolve(secretRef)).toBe("rotated password");
  });

  it("keeps at most maxEntries passwords, evicting the least recently used, which is then read afresh", async () => {
    const shard = (n: number) => ({ ...secretRef, name: `lru-shard-${n}-credentials` });
    const put = (n: number, password: string) =>
      kube.put({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: shard(n).name, namespace: "default" },
        data: { password: Buffer.from(password).toString("base64") },
      });
    for (const n of [0, 1, 2]) put(n, `old ${n}`);
    const resolver = new PasswordResolver(kubeAccess(kube.kubeConfigPath, "router", {}), scope(), 60_000, 2);
    expect(await resolver.resolve(shard(0))).toBe("old 0");
    expect(await resolver.resolve(shard(1))).toBe("old 1");
    expect(await resolver.resolve(shard(0))).toBe("old 0"); // used again: shard 1 is now the oldest
    expect(await resolver.resolve(shard(2))).toBe("old 2"); // a third: shard 1 goes
    for (const n of [0, 1, 2]) put(n, `new ${n}`);
    expect(await resolver.resolve(shard(2))).toBe("old 2");
    expect(await resolver.resolve(shard(0))).toBe("old 0");
    expect(await resolver.resolve(shard(1))).toBe("new 1");
    expect(() => new PasswordResolver(kubeAccess(undefined, "router", {}), scope(), 1, 0)).toThrow(
      RangeError,
    );
  });

  it("names the Secret and key, never the value, when the Secret or key is missing", async () => {
    putSecret("hidden value");
    const resolver = new PasswordResolver(kubeAccess(kube.kubeConfigPath, "router", {}), scope(), 0);
    const noKey = resolver.resolve({ ...secretRef, key: "pw" });
    await expect(noKey).rejects.toBeInstanceOf(PasswordUnavailableError);
    await expect(noKey).rejects.toThrow(
      'cannot read key "pw" of Secret default/shop-shard-0-credentials: the Secret has no such key',
    );
    const noSecret = resolver.resolve({ ...secretRef, name: "absent-shard-0-credentials" });
    await expect(noSecret).rejects.toThrow(
      'cannot read key "password" of Secret default/absent-shard-0-credentials: the Secret does not exist',
    );
    await expect(noSecret).rejects.not.toThrow(/hidden value/);
  });

  it("answers unavailable when the Kubernetes API cannot be reached", async () => {
    const gone = await startKubeApiDouble();
    const resolver = new PasswordResolver(kubeAccess(gone.kubeConfigPath, "router", {}), scope(), 0);
    await gone.close().catch(() => {});
    // The kubeconfig file is removed on close; the loaded config still points at the dead port.
    await expect(resolver.resolve(secretRef)).rejects.toThrow(/Kubernetes API is unreachable/);
  });
});
