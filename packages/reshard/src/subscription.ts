import pg from "pg";
import { RESHARD_SCHEMA } from "./reshard-access.ts";

const superusers = new WeakMap<pg.Client, Promise<boolean>>();

/**
 * Whether `client` logs in as a superuser: one runs the subscription commands itself, any other
 * role through the SECURITY DEFINER wrappers the provisioner installed (see reshard-access.ts).
 */
export function isSuperuser(client: pg.Client): Promise<boolean> {
  let known = superusers.get(client);
  if (!known) {
    known = client
      .query<{ superuser: boolean }>(
        "SELECT rolsuper AS superuser FROM pg_roles WHERE rolname = current_user",
      )
      .then((r) => r.rows[0]?.superuser === true);
    superusers.set(client, known);
  }
  return known;
}

async function viaWrapper(client: pg.Client, name: string, action: "enable" | "disable" | "drop") {
  await client.query(`SELECT ${pg.escapeIdentifier(RESHARD_SCHEMA)}.alter_subscription($1, $2)`, [
    name,
    action,
  ]);
}

/** The move's subscription in the target's current database, if any. */
export async function findSubscription(
  client: pg.Client,
  name: string,
): Promise<{ oid: number; enabled: boolean; slot: string | null } | undefined> {
  const { rows } = await client.query<{ oid: number; enabled: boolean; slot: string | null }>(
    `SELECT oid::int AS oid, subenabled AS enabled, subslotname::text AS slot FROM pg_subscription
      WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [name],
  );
  return rows[0];
}

/** A libpq connection-string value, quoted so spaces, quotes and backslashes survive. */
function conninfoValue(value: string): string {
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

export interface PublisherLogin {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string;
}

/**
 * `synchronous_commit = on`: the apply worker reports a commit to the source once it is flushed,
 * not when the WAL writer gets to it (every 200 ms) — the cut-over waits for exactly that report
 * under the fence (pnpm bench reshard: a 430–690 ms pause became 150 ms).
 *
 * Subscribes the target to the publication through the slot start() made (create_slot = false),
 * disabled and without a copy of its own (copy_data = false): the move copies the range itself in
 * the slot's exported snapshot, then enables it, and the stream starts where that snapshot ends.
 * Creating it connects to the source, so a target that cannot reach it fails here, before the copy.
 */
export async function createSubscription(
  client: pg.Client,
  name: string,
  login: PublisherLogin,
): Promise<void> {
  if (!(await isSuperuser(client))) {
    await client.query(
      `SELECT ${pg.escapeIdentifier(RESHARD_SCHEMA)}.create_subscription($1, $2, $3, $4, $5, $6, $7)`,
      [name, login.host, login.port, login.database, login.user, login.password, name],
    );
    return;
  }
  const conninfo = [
    `host=${conninfoValue(login.host)}`,
    `port=${login.port}`,
    `dbname=${conninfoValue(login.database)}`,
    `user=${conninfoValue(login.user)}`,
    `password=${conninfoValue(login.password)}`,
    `application_name=${conninfoValue(name)}`,
  ].join(" ");
  const id = pg.escapeIdentifier(name);
  await client.query(
    `CREATE SUBSCRIPTION ${id} CONNECTION ${pg.escapeLiteral(conninfo)} PUBLICATION ${id}
       WITH (create_slot = false, slot_name = ${pg.escapeLiteral(name)}, copy_data = false,
             enabled = false, synchronous_commit = 'on')`,
  );
}

/** The LIKE pattern of the table-sync slots PostgreSQL makes for a subscription (`pg_<suboid>_sync_<relid>_<sysid>`). */
export function syncSlotPattern(subscriptionOid: number): string {
  return `pg\\_${subscriptionOid}\\_sync\\_%`;
}

/** Starts the subscription's apply worker: it streams from the slot's confirmed position. */
export async function enableSubscription(client: pg.Client, name: string): Promise<void> {
  if (!(await isSuperuser(client))) return viaWrapper(client, name, "enable");
  await client.query(`ALTER SUBSCRIPTION ${pg.escapeIdentifier(name)} ENABLE`);
}

/** Stops the subscription's workers; its slots on the source are released once their walsenders notice. */
export async function disableSubscription(client: pg.Client, name: string): Promise<void> {
  if (!(await isSuperuser(client))) return viaWrapper(client, name, "disable");
  await client.query(`ALTER SUBSCRIPTION ${pg.escapeIdentifier(name)} DISABLE`);
}

/**
 * Drops the subscription without touching the source (slot_name = NONE first): the caller drops
 * the slots itself, which also works when the source is unreachable from the target.
 */
export async function dropSubscriptionLocally(client: pg.Client, name: string): Promise<void> {
  if (!(await isSuperuser(client))) return viaWrapper(client, name, "drop");
  const id = pg.escapeIdentifier(name);
  await client.query(`ALTER SUBSCRIPTION ${id} SET (slot_name = NONE)`);
  await client.query(`DROP SUBSCRIPTION ${id}`);
}
