import type { DatabaseReady } from "@dbplane/contracts";
import { applicationRole, databaseName, shardEndpoint, shardedTable } from "@dbplane/contracts";
import { type PasswordRefScope, passwordRefRefusal } from "@dbplane/kube";
import { assertTiling, equalRanges, rangesFromText, rangesToText } from "@dbplane/sharding";
import { z } from "zod";

const decimal = z.string().regex(/^(0|-?[1-9]\d*)$/, "must be a decimal integer string");

/**
 * A version of a database's shard map as stored (PostgreSQL) and published (KV): who owns which
 * range and how to reach each shard. Passwords never appear, only references to them. A shard
 * listed in `shards` may own no range yet (it joined and waits for a split to move keys to it).
 * `shardedTables` says which statements carry a shard key; `application` is the role clients
 * authenticate as and the router connects to the shards as (absent: the shards' own user).
 */
export const shardMapDocument = z
  .strictObject({
    database: databaseName,
    version: z.int().min(1),
    ranges: z.array(z.strictObject({ shard: z.int().min(0), from: decimal, to: decimal })).min(1),
    shards: z.array(shardEndpoint).min(1),
    // Defaults keep documents stored before these fields existed readable.
    shardedTables: z.array(shardedTable).default([]),
    application: applicationRole.optional(),
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
export type ApplicationRoleSpec = NonNullable<ShardMapDocument["application"]>;

/**
 * Version 1 of a new database's map: equal ranges over its shards, in shard-index order — or, for a
 * restored database, the ranges its `database.ready` carries (its source's at the restore's moment).
 */
export function initialShardMap(event: DatabaseReady, now: Date): ShardMapDocument {
  const shards = [...event.shards].sort((a, b) => a.shard - b.shard);
  return {
    database: event.name,
    version: 1,
    // A restored database starts with its source's ranges of the restore's moment.
    ranges:
      event.ranges ??
      rangesToText(
        equalRanges(
          shards.length,
          shards.map((s) => s.shard),
        ),
      ),
    shards,
    shardedTables: event.shardedTables,
    ...(event.application ? { application: event.application } : {}),
    createdAt: now.toISOString(),
  };
}

/**
 * The map after the provisioner reports a database again (replicas scaled, shards added, the
 * application role created, sharded tables changed): the same ranges with the endpoints, tables
 * and role it now announces; shards new to the map own no range yet. An event without an
 * application role keeps the map's (an older provisioner's redelivery must not take it away).
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
  const application = event.application ?? current.application;
  const { shardedTables } = event;
  const unchanged =
    canonicalJson(shards) === canonicalJson(current.shards) &&
    canonicalJson(shardedTables) === canonicalJson(current.shardedTables) &&
    canonicalJson(application ?? null) === canonicalJson(current.application ?? null);
  if (unchanged) return undefined;
  return {
    ...current,
    version: current.version + 1,
    shards,
    shardedTables,
    ...(application ? { application } : {}),
    createdAt: now.toISOString(),
  };
}

/**
 * What is wrong with the password references a `database.ready` announces, one line per ref
 * (empty: all acceptable). Every shard's ref must be that shard's and the application role's the
 * database's, inside the scope the provisioner issues refs in: a forged announcement must not
 * make the router read its own environment, another file, or another Secret and send it as a
 * password to the server the announcement names.
 */
export function refusedPasswordRefs(event: DatabaseReady, scope: PasswordRefScope): string[] {
  const database = event.name;
  const refused: string[] = [];
  for (const s of event.shards) {
    const why = passwordRefRefusal(s.passwordRef, scope, { database, shard: s.shard });
    if (why !== undefined) refused.push(`shard ${s.shard}: ${why}`);
    if (s.reshard) {
      const whyReshard = passwordRefRefusal(s.reshard.passwordRef, scope, { database, shard: s.shard });
      if (whyReshard !== undefined) refused.push(`shard ${s.shard} reshard.passwordRef: ${whyReshard}`);
    }
  }
  const app = event.application;
  for (const [field, ref] of app
    ? ([
        ["passwordRef", app.passwordRef],
        ["verifierRef", app.verifierRef],
      ] as const)
    : []) {
    const why = passwordRefRefusal(ref, scope, { database, role: "application" });
    if (why !== undefined) refused.push(`application.${field}: ${why}`);
  }
  return refused;
}

/** JSON with object keys sorted, so equal values compare equal whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
