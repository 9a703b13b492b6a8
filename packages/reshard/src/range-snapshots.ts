import type pg from "pg";
import type { RangeMoveSpec, ShardConnection } from "./range-move-spec.ts";
import { quotedTable, rangeWhere } from "./range-sql.ts";
import { connectShard } from "./shard-client.ts";

/** One side's count and checksum of a table's moved rows. */
export interface TableDigest {
  readonly rows: number;
  readonly checksum: string;
}

/** What verify() found. */
export interface VerifyResult {
  readonly equal: boolean;
  readonly tables: { table: string; source: TableDigest; target: TableDigest; equal: boolean }[];
}

/** Snapshots of both sides taken together; verify() reads them later, close() releases them. */
export interface RangeSnapshots {
  verify(): Promise<VerifyResult>;
  close(): Promise<void>;
}

/**
 * Count and order-independent checksum of the moved rows: the sum, as numeric so it cannot
 * overflow, of the first 64 bits of md5(row text). Equal row sets give equal sums on both sides
 * whatever the physical order; tables must have the same columns in the same order on both.
 */
async function digest(client: pg.Client, spec: RangeMoveSpec, table: RangeMoveSpec["tables"][number]) {
  const { rows } = await client.query<{ rows: string; checksum: string }>(
    `SELECT count(*) AS rows,
            coalesce(sum(('x' || substr(md5(dbplane_row::text), 1, 16))::bit(64)::bigint::numeric), 0)::text AS checksum
       FROM ${quotedTable(table.table)} AS dbplane_row ${rangeWhere(table, spec.from, spec.to)}`,
  );
  return { rows: Number(rows[0]!.rows), checksum: rows[0]!.checksum };
}

async function openSnapshot(shard: ShardConnection): Promise<pg.Client> {
  const client = await connectShard(shard);
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    // Row text must not depend on either server's defaults (a timestamptz prints in the session's zone).
    await client.query(
      `SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'postgres';
       SET LOCAL extra_float_digits = 1; SET LOCAL bytea_output = 'hex'`,
    );
    // A repeatable-read transaction takes its snapshot at its first statement, not at BEGIN.
    await client.query("SELECT 1");
    return client;
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
}

/**
 * Opens a REPEATABLE READ snapshot on each side and returns at once, so the caller's write fence
 * lasts two round trips; the scans happen in verify(), later, on the same snapshots.
 */
export async function openRangeSnapshots(spec: RangeMoveSpec): Promise<RangeSnapshots> {
  const [source, target] = await Promise.allSettled([openSnapshot(spec.source), openSnapshot(spec.target)]);
  if (source.status === "rejected" || target.status === "rejected") {
    for (const side of [source, target])
      if (side.status === "fulfilled") await side.value.end().catch(() => {});
    throw source.status === "rejected" ? source.reason : (target as PromiseRejectedResult).reason;
  }
  const sides = [source.value, target.value] as const;
  return {
    async verify() {
      const tables: VerifyResult["tables"] = [];
      for (const t of spec.tables) {
        const [s, d] = await Promise.all(sides.map((client) => digest(client, spec, t)));
        tables.push({
          table: t.table,
          source: s!,
          target: d!,
          equal: s!.rows === d!.rows && s!.checksum === d!.checksum,
        });
      }
      return { equal: tables.every((t) => t.equal), tables };
    },
    async close() {
      await Promise.all(sides.map((client) => client.query("ROLLBACK").finally(() => client.end())));
    },
  };
}
