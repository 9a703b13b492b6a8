import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { claimBackupDirs, shardBackupDirs } from "../src/drivers/local/wal-archive.ts";

const roots: string[] = [];
afterAll(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

/** A data directory whose shard 0 of "x" has `wal` and `base` entries left by an earlier server. */
async function leftBehind(wal: string[], base: string[]) {
  const root = await mkdtemp(join(tmpdir(), "dbplane-claim-"));
  roots.push(root);
  const dirs = shardBackupDirs(root, "x", 0);
  await mkdir(dirs.wal, { recursive: true });
  await mkdir(dirs.base, { recursive: true });
  for (const f of wal) await writeFile(join(dirs.wal, f), "");
  for (const d of base) await mkdir(join(dirs.base, d));
  await writeFile(join(dirs.dir, "password"), "old\n");
  return { root, dirs };
}

describe("a shard's first server and the backup directory an earlier one left", () => {
  it("finds nothing to do without one, or with an empty archive", async () => {
    const root = await mkdtemp(join(tmpdir(), "dbplane-claim-"));
    roots.push(root);
    expect(await claimBackupDirs(root, "x", 0)).toBeUndefined();
    const { root: empty } = await leftBehind([], ["b1.tmp"]);
    expect(await claimBackupDirs(empty, "x", 0)).toBeUndefined();
  });

  it("moves an archive with no base backup aside, whole, and keeps it", async () => {
    const { root, dirs } = await leftBehind(
      ["000000010000000000000001", "000000010000000000000002"],
      ["b1.tmp"],
    );
    const claim = await claimBackupDirs(root, "x", 0, new Date("2026-12-06T04:00:00.000Z"));
    expect(claim).toEqual({ movedTo: `${dirs.dir}.orphaned-2026-12-06T04-00-00-000Z` });
    expect(await readdir(join(root, "backups", "x"))).toEqual(["shard-0.orphaned-2026-12-06T04-00-00-000Z"]);
    expect(
      await readdir(join(root, "backups", "x", "shard-0.orphaned-2026-12-06T04-00-00-000Z", "wal")),
    ).toEqual(["000000010000000000000001", "000000010000000000000002"]);
  });

  it("leaves an archive with base backups where their rows name it, and says how many", async () => {
    const { root, dirs } = await leftBehind(["000000010000000000000001"], ["b1", "b2.tmp"]);
    expect(await claimBackupDirs(root, "x", 0)).toEqual({ baseBackups: 1 });
    expect(await readdir(dirs.base)).toEqual(["b1", "b2.tmp"]);
    expect(await readdir(dirs.wal)).toEqual(["000000010000000000000001"]);
  });
});
