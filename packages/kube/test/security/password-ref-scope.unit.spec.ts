// Issue 16, item 4: a password reference is resolved with the reader's own rights, so one that a
// caller chose must never reach beyond what the provisioner issues — not the reader's environment,
// not a file elsewhere, not another Secret of the release.

import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type KubeApiDouble, startKubeApiDouble } from "@dbplane/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  kubeAccess,
  PasswordRefRefusedError,
  PasswordResolver,
  passwordRefRefusal,
} from "../../src/index.ts";

let dataDir: string;
let outside: string;
let kube: KubeApiDouble;
const SECRET_VALUE = "the-release-jwt-secret-not-for-shards";

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "kube-scope-data-"));
  outside = await mkdtemp(join(tmpdir(), "kube-scope-outside-"));
  kube = await startKubeApiDouble();
  for (const [namespace, name] of [
    ["default", "dbplane-secrets"],
    ["other", "shop-shard-0-credentials"],
  ] as const) {
    kube.put({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace },
      data: { password: Buffer.from(SECRET_VALUE).toString("base64") },
    });
  }
});
afterAll(async () => {
  await kube?.close();
  await rm(dataDir, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

const resolver = () =>
  new PasswordResolver(kubeAccess(kube.kubeConfigPath, "router", {}), { dataDir, namespace: "default" }, 0);

describe("password references outside the provisioner's scope", () => {
  it("refuses /proc/self/environ, unread", async () => {
    const res = resolver().resolve({ kind: "file", path: "/proc/self/environ" });
    await expect(res).rejects.toBeInstanceOf(PasswordRefRefusedError);
    await expect(res).rejects.toThrow(/must lie inside DBPLANE_DATA_DIR/);
  });

  it("refuses a path that climbs out of the data directory and a symlink that points out of it", async () => {
    await writeFile(join(outside, "token"), "service-account-token", { mode: 0o600 });
    const climbing = resolver().resolve({
      kind: "file",
      path: join(dataDir, "..", "..", "proc", "self", "environ"),
    });
    await expect(climbing).rejects.toBeInstanceOf(PasswordRefRefusedError);
    await mkdir(join(dataDir, "clusters", "shop", "shard-0"), { recursive: true });
    const link = join(dataDir, "clusters", "shop", "shard-0", "password");
    await symlink(join(outside, "token"), link);
    const linked = resolver().resolve({ kind: "file", path: link });
    await expect(linked).rejects.toBeInstanceOf(PasswordRefRefusedError);
    await expect(linked).rejects.not.toThrow(/service-account-token/);
  });

  it("refuses Secrets the provisioner does not issue, or in another namespace", async () => {
    const release = resolver().resolve({
      kind: "secret",
      namespace: "default",
      name: "dbplane-secrets",
      key: "password",
    });
    await expect(release).rejects.toBeInstanceOf(PasswordRefRefusedError);
    await expect(release).rejects.toThrow(/not a provisioner's credentials Secret/);
    const elsewhere = resolver().resolve({
      kind: "secret",
      namespace: "other",
      name: "shop-shard-0-credentials",
      key: "password",
    });
    await expect(elsewhere).rejects.toThrow(/outside the release namespace default/);
  });

  it("binds a Secret to the shard or role it belongs to", () => {
    const scope = { dataDir, namespace: "default" };
    const ref = (name: string) => ({ kind: "secret" as const, namespace: "default", name, key: "password" });
    expect(
      passwordRefRefusal(ref("shop-shard-1-credentials"), scope, { database: "shop", shard: 1 }),
    ).toBeUndefined();
    expect(
      passwordRefRefusal(ref("shop-app"), scope, { database: "shop", role: "application" }),
    ).toBeUndefined();
    expect(
      passwordRefRefusal(ref("shop-shard-0-credentials"), scope, { database: "shop", shard: 1 }),
    ).toMatch(/does not hold the password of shard 1 of shop/);
    expect(
      passwordRefRefusal(ref("bank-shard-1-credentials"), scope, { database: "shop", shard: 1 }),
    ).toMatch(/does not hold/);
    expect(
      passwordRefRefusal(ref("shop-shard-1-x-shard-1-credentials"), scope, { database: "shop", shard: 1 }),
    ).toMatch(/does not hold/);
  });

  it("still reads what the provisioner issues", async () => {
    const path = join(dataDir, "clusters", "shop", "app-password");
    await mkdir(join(dataDir, "clusters", "shop"), { recursive: true });
    await writeFile(path, "issued\n", { mode: 0o600 });
    expect(await resolver().resolve({ kind: "file", path })).toBe("issued");
  });
});
