import type { DatabaseReady } from "@dbplane/contracts";
import { databaseName, shardEndpoint } from "@dbplane/contracts";
import { assertTiling, equalRanges, rangesFromText, rangesToText } from "@dbplane/sharding";
import { z } from "zod";

const decimal = z.string().regex(/^(0|-?[1-9]\d*)$/, "must be a decimal integer string");

/**
 * A version of a database's shard map as stored (PostgreSQL) and published (KV): who owns which
 * range and how to reach each shard. Passwords never appear, only references to them. A shard
 * listed in `shards` may own no range yet (it joined and waits for a split to move keys to it).
 */
export const shardMapDocument = z
  .strictObject({
    database: databaseName,
    version: z.int().min(1),
    ranges: z.array(z.strictObject({ shard: z.int().min(0), from: decimal, to: decimal })).min(1),
    shards: z.array(shardEndpoint).min(1),
    createdAt: z.string(),
  })
  .superRefine((doc, ctx) => {
    try {
      assertTiling(rangesFromText(doc.ranges));
    } catch (err) {
      ctx.addIssue({ code: "custom", path: ["ranges"], message: (err as Error).message });
    }
    const known = new Set(doc.shards.map((s) => s.shard));
    if (known.size !== doc.shards.length) {
      ctx.addIssue({ code: "custom", path: ["shards"], message: "shard indexes must be unique" });
    }
    for (const [i, r] of doc.ranges.entries()) {
      if (!known.has(r.shard)) {
        ctx.addIssue({
          code: "custom",
          path: ["ranges", i, "shard"],
          message: `shard ${r.shard} is not listed in shards`,
        });
      }
    }
  });

export type ShardMapDocument = z.output<typeof shardMapDocument>;
export type ShardEndpointSpec = ShardMapDocument["shards"][number];

/** Version 1 of a new database's map: equal ranges over its shards, in shard-index order. */
export function initialShardMap(event: DatabaseReady, now: Date): ShardMapDocument {
  const shards = [...event.shards].sort((a, b) => a.shard - b.shard);
  return {
    database: event.name,
    version: 1,
    ranges: rangesToText(
      equalRanges(
        shards.length,
        shards.map((s) => s.shard),
      ),
    ),
    shards,
    createdAt: now.toISOString(),
  };
}

/**
 * The map after the provisioner reports a database again (replicas scaled, shards added): the
 * same ranges with the endpoints it now announces; shards new to the map own no range yet.
 * Undefined when nothing changed, so a redelivered event writes nothing.
 */
export function refreshedShardMap(
  current: ShardMapDocument,
  event: DatabaseReady,
  now: Date,
): ShardMapDocument | undefined {
  const byIndex = new Map(current.shards.map((s) => [s.shard, s]));
  for (const s of event.shards) byIndex.set(s.shard, s);
  const shards = [...byIndex.values()].sort((a, b) => a.shard - b.shard);
  if (canonicalJson(shards) === canonicalJson(current.shards)) return undefined;
  return { ...current, version: current.version + 1, shards, createdAt: now.toISOString() };
}

/** JSON with object keys sorted, so equal values compare equal whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
