import {
  deleteRange,
  disableSubscription,
  dropPublicationAndRole,
  dropSubscriptionLocally,
  hiddenTables,
  MOVE_OBJECT_PREFIX,
  type MovedTable,
  RESHARD_ROLE,
  revealTable,
} from "@dbplane/reshard";
import { KEYSPACE_END, KEYSPACE_MIN, type KeyRange, type ShardKeyType } from "@dbplane/sharding";
import type pg from "pg";

/** What a restored shard keeps: its sharded tables' rows in `owned`, the ranges its map gives it. */
export interface RestoredShardMap {
  readonly owned: readonly KeyRange[];
  readonly tables: readonly { table: string; keyColumn: string; keyType: ShardKeyType }[];
}

/**
 * Runs `work` on a new connection to `dbname` of the restored server and closes it after; as a
 * user allowed to drop others' subscriptions, roles and policies (a superuser). Each driver reaches
 * its server its own way (the local one over 127.0.0.1, CloudNativePG through the `-rw` Service).
 */
export type ConnectRestored = <T>(dbname: string, work: (client: pg.Client) => Promise<T>) => Promise<T>;

/** What the clean-up removed (counts for the log; no names of secrets). */
export interface LeftoversRemoved {
  subscriptions: number;
  publications: number;
  rowsDeleted: number;
  policies: number;
}

/**
 * A conninfo that reaches nothing (a Unix socket path that does not exist): set on a restored
 * subscription before it is dropped, so no step of the drop (PostgreSQL drops a table-sync slot
 * it still names on the publisher) can touch the live source the conninfo named.
 */
const NOWHERE = "host=/nonexistent/dbplane-restored dbname=none";

/**
 * Removes from a restored shard what a reshard running at the restored moment left in it
 * (DESIGN.md, router: snapshot copy → logical replication → cut-over → clean-up): every
 * subscription (its apply worker would connect to the LIVE source and consume the live move's
 * slot), the moves' publications and replication roles, the sharded tables' rows the restored map
 * gives to another shard (a copy not yet owned, or moved rows not yet deleted), then the moves'
 * row-level-security policies that hid those rows. Call while the server runs with
 * `max_logical_replication_workers = 0`, so no apply worker starts before the subscriptions are
 * gone. Idempotent: a repeat finds nothing left.
 */
export async function removeReshardLeftovers(
  connect: ConnectRestored,
  dbname: string,
  map: RestoredShardMap,
): Promise<LeftoversRemoved> {
  const subscriptions = await dropSubscriptions(connect);
  return connect(dbname, async (client) => {
    const publications = await dropMovePublications(client);
    let rowsDeleted = 0;
    for (const table of map.tables) {
      const exists = await client.query("SELECT to_regclass($1) IS NOT NULL AS e", [
        quoted(client, table.table),
      ]);
      if (!exists.rows[0]?.e) continue;
      const moved: MovedTable = { table: table.table, key: { column: table.keyColumn, type: table.keyType } };
      for (const gap of notOwned(map.owned)) {
        rowsDeleted += await deleteRange(client, moved, gap.from, gap.to, () => {});
      }
    }
    // Only once the rows are gone: revealing first would show another shard's rows here.
    const hidden = await hiddenTables(client);
    for (const { name, table } of hidden) await revealTable(client, name, table);
    return { subscriptions, publications, rowsDeleted, policies: hidden.length };
  });
}

/** Every subscription of every database of the server: disabled, pointed nowhere, dropped locally. */
async function dropSubscriptions(connect: ConnectRestored): Promise<number> {
  const databases = await connect("postgres", async (client) => {
    const { rows } = await client.query<{ datname: string }>(
      "SELECT DISTINCT d.datname FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid ORDER BY 1",
    );
    return rows.map((r) => r.datname);
  });
  let dropped = 0;
  for (const database of databases) {
    await connect(database, async (client) => {
      const { rows } = await client.query<{ subname: string; subenabled: boolean }>(
        `SELECT subname, subenabled FROM pg_subscription
          WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      for (const { subname, subenabled } of rows) {
        if (subenabled) await disableSubscription(client, subname);
        await client.query(
          `ALTER SUBSCRIPTION ${client.escapeIdentifier(subname)} CONNECTION ${client.escapeLiteral(NOWHERE)}`,
        );
        await dropSubscriptionLocally(client, subname);
        dropped++;
      }
    });
  }
  return dropped;
}

/** The moves' publications and their replication roles (`dbplane_rs_<id>`); the users' stay. */
async function dropMovePublications(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ name: string; publication: boolean }>(
    `SELECT pubname AS name, true AS publication FROM pg_publication WHERE starts_with(pubname, $1)
     UNION
     SELECT rolname, false FROM pg_roles WHERE starts_with(rolname, $1) AND rolname <> $2
       AND NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = rolname)`,
    [MOVE_OBJECT_PREFIX, RESHARD_ROLE],
  );
  for (const { name } of rows) await dropPublicationAndRole(client, name);
  return rows.filter((r) => r.publication).length;
}

/** `schema.name` or `name` as SQL, each part quoted. */
function quoted(client: pg.Client, table: string): string {
  return table
    .split(".")
    .map((part) => client.escapeIdentifier(part))
    .join(".");
}

/** The ranges of the keyspace outside `owned`, in order. */
export function notOwned(owned: readonly KeyRange[]): { from: bigint; to: bigint }[] {
  const gaps: { from: bigint; to: bigint }[] = [];
  let at = KEYSPACE_MIN;
  for (const r of [...owned].sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0))) {
    if (r.from > at) gaps.push({ from: at, to: r.from });
    if (r.to > at) at = r.to;
  }
  if (at < KEYSPACE_END) gaps.push({ from: at, to: KEYSPACE_END });
  return gaps;
}
