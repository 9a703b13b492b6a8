import { createDatabase } from "@dbplane/contracts";
import { describe, expect, it } from "vitest";
import { completeBackupSets } from "../src/backups/backup-sets.ts";
import { RestoreRefusedError, restoreSpec } from "../src/backups/restore-plan.ts";
import { shardMapAt, UnknownShardMapError } from "../src/backups/restore-shard-map.ts";
import { cronProblem, expiredBackups, scheduledBackupId } from "../src/domain/backup-schedule.ts";
import type { DatabaseSpec } from "../src/domain/database-spec.ts";
import { prunableLocations } from "../src/drivers/kubernetes/backup-prune-job.ts";
import { archiveCommand } from "../src/drivers/local/archive-command.ts";
import { createBody } from "../src/http/schemas.ts";
import type { BackupRow } from "../src/store/rows.ts";

const row = (backupId: string, shard: number, completedAt: string, state = "completed"): BackupRow => ({
  database: "ledger",
  backupId,
  shard,
  state: state as BackupRow["state"],
  location: `/data/backups/ledger/shard-${shard}/base/${backupId}`,
  bytes: 1,
  reason: null,
  operationId: null,
  startedAt: new Date(completedAt),
  completedAt: new Date(completedAt),
  startLsn: "0/1000028",
  stopLsn: "0/1000100",
  mapVersion: null,
  ofShards: null,
});
const rows = [
  row("b1", 0, "2026-12-04T10:00:00Z"),
  row("b1", 1, "2026-12-04T10:00:05Z"),
  row("b2", 0, "2026-12-04T11:00:00Z"),
  row("b2", 1, "2026-12-04T11:00:03Z"),
  row("b3", 0, "2026-12-04T12:00:00Z"),
  row("b3", 1, "2026-12-04T12:00:00Z", "failed"),
];
const source = createDatabase.schema.parse({
  name: "ledger",
  shards: 2,
  backup: { schedule: { cron: "0 3 * * *" }, retain: { count: 1 } },
}) as DatabaseSpec;

describe("backup policy", () => {
  it("a create names the field of a cron or zone the scheduler cannot fire", () => {
    const issues = (backup: unknown) =>
      createBody.safeParse({ name: "x", backup }).error?.issues.map((i) => i.path.join("."));
    expect(issues({ schedule: { cron: "61 * * * *" }, retain: { count: 1 } })).toEqual([
      "backup.schedule.cron",
    ]);
    expect(issues({ schedule: { cron: "@daily", timezone: "Mars/Olympus" }, retain: { count: 1 } })).toEqual([
      "backup.schedule.timezone",
    ]);
    expect(issues({ schedule: { cron: "@daily" }, retain: { count: 1, days: 2 } })).toEqual([
      "backup.retain",
    ]);
    expect(
      issues({ schedule: { cron: "*/10 * * * * *", timezone: "Europe/Berlin" }, retain: { days: 7 } }),
    ).toBe(undefined);
    expect(cronProblem("0 3 * * *", "UTC")).toBeNull();
  });

  it("a scheduled occurrence is one backup id, made of identifier characters", () => {
    const id = scheduledBackupId("dbplane-backup-ledger:2026-12-04T03:00:00.000Z");
    expect(id).toBe("dbplane-backup-ledger-2026-12-04T03-00-00.000Z");
    expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/);
  });

  it("retention keeps the newest count, or the young ones and always the newest", () => {
    const sets = completeBackupSets(rows, 2);
    expect(sets.map((s) => s.backupId)).toEqual(["b1", "b2"]);
    expect(sets[0]?.completedAt.toISOString()).toBe("2026-12-04T10:00:05.000Z");
    expect(expiredBackups(sets, { count: 1 }, new Date()).map((s) => s.backupId)).toEqual(["b1"]);
    expect(
      expiredBackups(sets, { days: 1 }, new Date("2026-12-10T00:00:00Z")).map((s) => s.backupId),
    ).toEqual(["b1"]);
  });

  it("a restore starts every shard from the newest complete backup before the target, to one moment", () => {
    const now = new Date("2026-12-04T13:00:00Z");
    const spec = restoreSpec(source, rows, { pointInTime: "2026-12-04T11:30:00Z", into: "copy" }, now);
    expect(spec).toMatchObject({
      name: "copy",
      shards: 2,
      restoreFrom: {
        database: "ledger",
        targetTime: "2026-12-04T11:30:00.000Z",
        bases: ["/data/backups/ledger/shard-0/base/b2", "/data/backups/ledger/shard-1/base/b2"],
      },
    });
    const byId = restoreSpec(source, rows, { backupId: "b1", into: "copy" }, now);
    expect(byId.restoreFrom?.targetTime).toBe("2026-12-04T10:00:05.000Z");
    const refused = (request: Parameters<typeof restoreSpec>[2]) => {
      try {
        restoreSpec(source, rows, request, now);
      } catch (err) {
        return err instanceof RestoreRefusedError ? err.field : err;
      }
    };
    expect(refused({ pointInTime: "2026-12-04T09:00:00Z", into: "copy" })).toBe("pointInTime");
    expect(refused({ pointInTime: "2026-12-05T09:00:00Z", into: "copy" })).toBe("pointInTime");
    expect(refused({ backupId: "b3", into: "copy" })).toBe("backupId");
  });

  it("the archive command never overwrites a segment and shows it only once flushed", () => {
    expect(archiveCommand("/data/it's")).toBe(
      "test ! -f '/data/it'\\''s/%f' && cp %p '/data/it'\\''s/%f.part' && sync '/data/it'\\''s/%f.part' && mv '/data/it'\\''s/%f.part' '/data/it'\\''s/%f'",
    );
  });
});

describe("Kubernetes backup retention", () => {
  const target = { url: "s3://bucket/prefix/", uploaderImage: "amazon/aws-cli" };
  it("deletes only the shard's own dump locations under the database's prefix", () => {
    expect(
      prunableLocations(target, "shop", 1, [
        "s3://bucket/prefix/shop/b1/shard-1.dump",
        "s3://bucket/prefix/shop/b1/shard-1.dump",
        "s3://bucket/prefix/shop/b1/shard-0.dump",
        "s3://bucket/prefix/other/b1/shard-1.dump",
        "s3://bucket/prefix/shop/a/../b/shard-1.dump",
        "s3://elsewhere/shop/b2/shard-1.dump",
      ]),
    ).toEqual(["s3://bucket/prefix/shop/b1/shard-1.dump"]);
  });
  it("counts complete dump sets apart from physical ones", () => {
    const at = (minute: number) => `2026-12-04T10:0${minute}:00Z`;
    const dump = (backupId: string, shard: number, minute: number): BackupRow => ({
      ...row(backupId, shard, at(minute)),
      startLsn: null,
      stopLsn: null,
    });
    const rows = [
      dump("d1", 0, 1),
      dump("d1", 1, 2),
      dump("d2", 0, 3),
      row("p1", 0, at(4)),
      row("p1", 1, at(5)),
    ];
    expect(completeBackupSets(rows, 2, "dump").map((s) => s.backupId)).toEqual(["d1"]);
    expect(completeBackupSets(rows, 2).map((s) => s.backupId)).toEqual(["p1"]);
  });
});

describe("the shard map a restore makes its database with", () => {
  const at = (minute: number) => new Date(`2026-12-04T10:${String(minute).padStart(2, "0")}:00Z`);
  const ranges = (boundary: string) => [
    { shard: 0, from: "-9223372036854775808", to: boundary },
    { shard: 1, from: boundary, to: "9223372036854775808" },
  ];
  const entry = (version: number, minute: number, boundary: string | null = String(version)) => ({
    version,
    ranges: boundary === null ? null : ranges(boundary),
    inForceFrom: at(minute),
  });
  const history = [entry(1, 0), entry(2, 10), entry(3, 20)];

  it("is the version in force at the target time, from the history", () => {
    expect(shardMapAt({ history, current: 3, target: at(15), baseVersion: 2 })).toEqual({
      version: 2,
      ranges: ranges("2"),
    });
    expect(shardMapAt({ history, current: 3, target: at(25), baseVersion: 2 }).version).toBe(3);
    expect(shardMapAt({ history, current: 1, target: at(5), baseVersion: 1 }).version).toBe(1);
    // Never resharded, no history: version 1's equal ranges.
    expect(shardMapAt({ history: [], current: undefined, target: at(5), baseVersion: null })).toEqual({
      version: 1,
      ranges: undefined,
    });
  });

  it("is the base backup's recorded map when nothing was published after it", () => {
    const kept = [entry(4, 0)];
    expect(shardMapAt({ history: kept, current: 4, target: at(30), baseVersion: 4 }).version).toBe(4);
  });

  it("is refused (409) when a version published at an unknown time may have been in force", () => {
    // Version 4 was published but never recorded: after 3, when?
    expect(() => shardMapAt({ history, current: 5, target: at(25), baseVersion: 3 })).toThrow(
      UnknownShardMapError,
    );
    expect(() => shardMapAt({ history, current: 5, target: at(25), baseVersion: 3 })).toThrow(/version 4/);
    // Only the version of a deleted database was kept, not its ranges.
    expect(() =>
      shardMapAt({ history: [entry(3, 0, null)], current: undefined, target: at(5), baseVersion: 3 }),
    ).toThrow(/ranges were not kept/);
  });

  it("names why in the restore plan", () => {
    const spec = { ...source, shards: 2 } as DatabaseSpec;
    expect(() =>
      restoreSpec(spec, rows, { backupId: "b2", into: "x" }, new Date("2026-12-05T00:00:00Z"), {
        maps: { history: [entry(3, 0)], current: 5 },
      }),
    ).toThrow(UnknownShardMapError);
  });
});

describe("a backup from before a split", () => {
  const taken = (backupId: string, shard: number, minute: number, ofShards: number): BackupRow => ({
    ...row(backupId, shard, `2026-12-04T10:0${minute}:00Z`),
    ofShards,
  });
  // b1 of 2 shards; a split added shard 2; b2 of 3 shards; a one-shard backup of shard 0.
  const history = [
    taken("b1", 0, 1, 2),
    taken("b1", 1, 2, 2),
    taken("b2", 0, 4, 3),
    taken("b2", 1, 5, 3),
    taken("b2", 2, 6, 3),
    { ...row("one", 0, "2026-12-04T10:07:00Z") },
  ];
  it("is complete with the shards of its day, and a one-shard backup of a sharded database is not", () => {
    const sets = completeBackupSets(history, 3);
    expect(sets.map((s) => [s.backupId, s.locations.length])).toEqual([
      ["b1", 2],
      ["b2", 3],
    ]);
  });
  it("restores into as many shards as it has, with the map of its moment", () => {
    const now = new Date("2026-12-05T00:00:00Z");
    const split = {
      history: [
        {
          version: 1,
          ranges: [
            { shard: 0, from: "-9223372036854775808", to: "0" },
            { shard: 1, from: "0", to: "9223372036854775808" },
          ],
          inForceFrom: new Date("2026-12-04T09:00:00Z"),
        },
        {
          version: 2,
          ranges: [
            { shard: 0, from: "-9223372036854775808", to: "0" },
            { shard: 1, from: "0", to: "4611686018427387904" },
            { shard: 2, from: "4611686018427387904", to: "9223372036854775808" },
          ],
          inForceFrom: new Date("2026-12-04T10:03:00Z"),
        },
      ],
      current: 2,
    };
    const spec = { ...source, shards: 3 } as DatabaseSpec;
    const before = restoreSpec(spec, history, { backupId: "b1", into: "x" }, now, { maps: split });
    expect(before.shards).toBe(2);
    expect(before.restoreFrom?.ranges?.map((r) => r.shard)).toEqual([0, 1]);
    const after = restoreSpec(spec, history, { backupId: "b2", into: "y" }, now, { maps: split });
    expect(after.shards).toBe(3);
    expect(after.restoreFrom?.ranges?.map((r) => r.shard)).toEqual([0, 1, 2]);
  });
});
