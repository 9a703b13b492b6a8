import { describe, expect, it } from "vitest";
import { replicaServers } from "../src/drivers/local/local-driver.ts";
import { lsnValue } from "../src/drivers/local/local-failover.ts";
import { slotNameOf } from "../src/drivers/local/replication-slots.ts";

describe("the replica servers of a local shard", () => {
  it("are replica-1… before any failover", () => {
    expect(replicaServers("primary", new Set(), 2)).toEqual(["replica-1", "replica-2"]);
  });

  it("skip the promoted replica and the fenced old primary, so the count asked stays", () => {
    expect(replicaServers("replica-1", new Set(["primary"]), 1)).toEqual(["replica-2"]);
    expect(replicaServers("replica-2", new Set(["primary", "replica-1"]), 2)).toEqual([
      "replica-3",
      "replica-4",
    ]);
  });

  it("count the former primary first once it is re-joined as a replica", () => {
    expect(replicaServers("replica-1", new Set(), 1, ["primary", "replica-1"])).toEqual(["primary"]);
    expect(replicaServers("replica-1", new Set(), 2, ["primary", "replica-1"])).toEqual([
      "primary",
      "replica-2",
    ]);
    // Still fenced (not re-joined yet): not one of them.
    expect(replicaServers("replica-1", new Set(["primary"]), 1, ["primary", "replica-1"])).toEqual([
      "replica-2",
    ]);
  });

  it("are none for a shard without replicas", () => {
    expect(replicaServers("primary", new Set(), 0)).toEqual([]);
  });
});

describe("failover's choice of replica", () => {
  it("orders LSNs by position, not as text", () => {
    expect(lsnValue("0/A000000") > lsnValue("0/9FFFFFF")).toBe(true);
    expect(lsnValue("1/0") > lsnValue("0/FFFFFFFF")).toBe(true);
    expect(lsnValue("0/0")).toBe(0n);
  });

  it("names each server's slot after its directory", () => {
    expect(slotNameOf("replica-12")).toBe("dbplane_replica_12");
    expect(slotNameOf("primary")).toBe("dbplane_primary");
  });
});
