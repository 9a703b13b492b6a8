// Issue 16, item 4: what a database.ready may name as password references, shard by shard and for
// the application role (the router's half of the rule the e2e test shows end to end).

import { describe, expect, it } from "vitest";
import { refusedPasswordRefs } from "../../src/domain/shard-map.ts";

const scope = { dataDir: "/var/lib/dbplane", namespace: "dbplane" };
const secret = (name: string, key = "password") => ({
  kind: "secret" as const,
  namespace: "dbplane",
  name,
  key,
});
const file = (path: string) => ({ kind: "file" as const, path });
const shard = (n: number, passwordRef: ReturnType<typeof secret> | ReturnType<typeof file>) => ({
  shard: n,
  primary: { host: `shop-shard-${n}.dbplane.svc`, port: 5432 },
  replicas: [],
  dbname: "shop",
  user: "dbplane",
  passwordRef,
});
const ready = (shards: ReturnType<typeof shard>[], application?: unknown) =>
  ({
    name: "shop",
    version: 1,
    postgresVersion: 16,
    shards,
    shardedTables: [],
    ...(application ? { application } : {}),
  }) as never;

describe("password references a database.ready may name", () => {
  it("accepts what the provisioner issues, in both drivers", () => {
    const app = {
      user: "shop",
      passwordRef: secret("shop-app"),
      verifierRef: secret("shop-app", "verifier"),
    };
    expect(refusedPasswordRefs(ready([shard(0, secret("shop-shard-0-credentials"))], app), scope)).toEqual(
      [],
    );
    const local = ready([shard(0, file("/var/lib/dbplane/clusters/shop/shard-0/password"))], {
      user: "shop",
      passwordRef: file("/var/lib/dbplane/clusters/shop/app/password"),
      verifierRef: file("/var/lib/dbplane/clusters/shop/app/verifier"),
    });
    expect(refusedPasswordRefs(local, scope)).toEqual([]);
  });

  it("names every ref it refuses: the router's environment, another shard's Secret, a foreign role", () => {
    const refused = refusedPasswordRefs(
      ready([shard(0, file("/proc/self/environ")), shard(1, secret("shop-shard-0-credentials"))], {
        user: "shop",
        passwordRef: secret("bank-app"),
        verifierRef: file("/var/lib/dbplane/../../etc/shadow"),
      }),
      scope,
    );
    expect(refused).toEqual([
      "shard 0: a password file must lie inside DBPLANE_DATA_DIR, where the provisioner writes them",
      "shard 1: Secret dbplane/shop-shard-0-credentials does not hold the password of shard 1 of shop",
      "application.passwordRef: Secret dbplane/bank-app does not hold the password of shop's application role",
      "application.verifierRef: a password file must lie inside DBPLANE_DATA_DIR, where the provisioner writes them",
    ]);
  });

  it("checks the reshard role's ref by the same rule: a forged one would be the router's login", () => {
    const withReshard = (n: number, reshardRef: ReturnType<typeof secret> | ReturnType<typeof file>) => ({
      ...shard(n, secret(`shop-shard-${n}-credentials`)),
      reshard: { user: "dbplane_reshard", passwordRef: reshardRef },
    });
    expect(refusedPasswordRefs(ready([withReshard(0, secret("shop-shard-0-reshard"))]), scope)).toEqual([]);
    expect(
      refusedPasswordRefs(
        ready([withReshard(0, file("/proc/self/environ")), withReshard(1, secret("shop-shard-0-reshard"))]),
        scope,
      ),
    ).toEqual([
      "shard 0 reshard.passwordRef: a password file must lie inside DBPLANE_DATA_DIR, where the provisioner writes them",
      "shard 1 reshard.passwordRef: Secret dbplane/shop-shard-0-reshard does not hold the password of shard 1 of shop",
    ]);
  });
});
