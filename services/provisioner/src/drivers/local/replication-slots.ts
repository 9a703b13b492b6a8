import type pg from "pg";
import { type AdminTarget, withConnection } from "./local-server.ts";

/** The physical slot a shard's server streams through: named after its directory (`replica-1` → `dbplane_replica_1`). */
export const slotNameOf = (server: string) => `dbplane_${server.replace(/[^a-z0-9]/g, "_")}`;

/**
 * The slot exists on the primary (idempotent). A slot keeps the WAL its replica has not received
 * yet, so a replica stopped for longer than `wal_keep_size` allows still catches up when started.
 */
export async function ensureSlot(primary: AdminTarget, password: string, slot: string): Promise<void> {
  await withConnection(primary, password, "postgres", async (client) => {
    const { rowCount } = await client.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [
      slot,
    ]);
    if (rowCount === 0) await createSlot(client, slot);
  });
}

async function createSlot(client: pg.Client, slot: string): Promise<void> {
  try {
    // Reserve WAL now: the replica's base backup starts from here.
    await client.query("SELECT pg_create_physical_replication_slot($1, true)", [slot]);
  } catch (err) {
    // Another pass made it between the check and here.
    if ((err as { code?: string }).code !== "42710") throw err;
  }
}

/**
 * Points a running replica at the shard's primary through its slot: `primary_conninfo` (the
 * one pg_basebackup -R wrote, with the primary's port) and `primary_slot_name`, by ALTER SYSTEM
 * and a reload, with the slot's name as `application_name` — PostgreSQL 13+ restarts the WAL receiver on a change of either, and follows the
 * new primary's timeline (`recovery_target_timeline` is `latest`). Nothing is written when both
 * are already right. True if something changed.
 */
export async function followPrimary(
  replica: AdminTarget,
  password: string,
  primaryPort: number,
  slot: string,
): Promise<boolean> {
  return withConnection(replica, password, "postgres", async (client) => {
    const setting = async (name: string) =>
      (await client.query<{ setting: string }>("SELECT setting FROM pg_settings WHERE name = $1", [name]))
        .rows[0]?.setting ?? "";
    const conninfo = await setting("primary_conninfo");
    const withPort = /\bport=\d+/.test(conninfo)
      ? conninfo.replace(/\bport=\d+/, `port=${primaryPort}`)
      : `${conninfo} port=${primaryPort}`.trim();
    // Its slot's name is its application_name too: synchronous_standby_names lists replicas by it.
    const wanted = /\bapplication_name=\S+/.test(withPort)
      ? withPort.replace(/\bapplication_name=\S+/, `application_name=${slot}`)
      : `${withPort} application_name=${slot}`;
    const currentSlot = await setting("primary_slot_name");
    if (wanted === conninfo && currentSlot === slot) return false;
    await client.query(`ALTER SYSTEM SET primary_conninfo = ${client.escapeLiteral(wanted)}`);
    await client.query(`ALTER SYSTEM SET primary_slot_name = ${client.escapeLiteral(slot)}`);
    await client.query("SELECT pg_reload_conf()");
    return true;
  });
}

/** A removed replica's slot goes with it: a slot nobody reads would keep WAL on the primary for ever. */
export async function dropSlot(primary: AdminTarget, password: string, slot: string): Promise<void> {
  await withConnection(primary, password, "postgres", async (client) => {
    await client.query(
      "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active",
      [slot],
    );
  });
}
