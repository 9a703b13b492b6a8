import { describe, expect, it } from "vitest";
import { synchronousStandbyNames } from "../src/drivers/local/synchronous-standbys.ts";
import { createBody } from "../src/http/schemas.ts";

const request = (extra: Record<string, unknown>) => ({
  name: "ledger",
  shards: 1,
  storage: { size: "1Gi" },
  shardedTables: [],
  ...extra,
});
const issuePaths = (body: unknown) => {
  const parsed = createBody.safeParse(body);
  return parsed.success ? [] : parsed.error.issues.map((i) => i.path.join("."));
};

describe("a create request's synchronous mode", () => {
  it("is accepted for up to replicasPerShard replicas, and kept", () => {
    const parsed = createBody.parse(request({ replicasPerShard: 2, synchronous: { replicas: 2 } }));
    expect(parsed.synchronous).toEqual({ replicas: 2 });
  });

  it("names synchronous.replicas when it asks for more replicas than the shard has, or fewer than 1", () => {
    expect(issuePaths(request({ replicasPerShard: 1, synchronous: { replicas: 2 } }))).toEqual([
      "synchronous.replicas",
    ]);
    expect(issuePaths(request({ synchronous: { replicas: 1 } }))).toEqual(["synchronous.replicas"]);
    expect(issuePaths(request({ replicasPerShard: 1, synchronous: { replicas: 0 } }))).toEqual([
      "synchronous.replicas",
    ]);
  });
});

describe("synchronous_standby_names", () => {
  it("is ANY n over the replicas' application names", () => {
    expect(synchronousStandbyNames(1, ["dbplane_replica_1", "dbplane_replica_2"])).toBe(
      'ANY 1 ("dbplane_replica_1", "dbplane_replica_2")',
    );
  });

  it("waits for no more replicas than there are, and for none without synchronous mode", () => {
    expect(synchronousStandbyNames(2, ["dbplane_primary"])).toBe('ANY 1 ("dbplane_primary")');
    expect(synchronousStandbyNames(1, [])).toBe("");
    expect(synchronousStandbyNames(0, ["dbplane_replica_1"])).toBe("");
  });
});
