import { rm } from "node:fs/promises";
import { join } from "node:path";
import { type AdminTarget, type ServerContext, stopServer, withConnection } from "./local-server.ts";

/**
 * `max_slot_wal_keep_size` for DBPLANE_SLOT_MAX_LAG_BYTES: PostgreSQL's own bound on the WAL a
 * replication slot may hold back (13+). Past it, the next checkpoint invalidates the slot
 * (`wal_status = 'lost'`) and removes the WAL, so a replica gone for good cannot fill the
 * primary's disk. 0 means never (-1, unlimited). Whole megabytes, at least 1.
 */
export function maxSlotWalKeepSize(bytes: number): string {
  if (bytes <= 0) return "-1";
  return `${Math.max(1, Math.ceil(bytes / (1024 * 1024)))}MB`;
}

/** Sets it on a server (ALTER SYSTEM and a reload) when it differs; a replica keeps it for when it is promoted. */
export async function applySlotRetention(
  server: AdminTarget,
  password: string,
  value: string,
): Promise<void> {
  await withConnection(server, password, "postgres", async (client) => {
    const { rows } = await client.query<{ v: string }>(
      "SELECT setting || coalesce(unit, '') AS v FROM pg_settings WHERE name = 'max_slot_wal_keep_size'",
    );
    const current = rows[0]?.v === "-1MB" ? "-1" : rows[0]?.v;
    if (current === value) return;
    await client.query(`ALTER SYSTEM SET max_slot_wal_keep_size = ${client.escapeLiteral(value)}`);
    await client.query("SELECT pg_reload_conf()");
  });
}

/**
 * A replica whose slot the primary invalidated (it fell further behind than the bound) can never
 * stream again: the WAL it needs is gone. Its data directory and its slot are removed, so that
 * `ensureReplica` copies it anew (pg_basebackup) through a new slot. True if it was removed.
 */
export async function discardIfSlotLost(
  shardDir: string,
  server: string,
  slot: string,
  primary: AdminTarget,
  ctx: ServerContext,
): Promise<boolean> {
  const lost = await withConnection(primary, ctx.password, "postgres", async (client) => {
    const { rows } = await client.query<{ status: string | null }>(
      "SELECT wal_status AS status FROM pg_replication_slots WHERE slot_name = $1",
      [slot],
    );
    return rows[0]?.status === "lost";
  });
  if (!lost) return false;
  const dataDir = join(shardDir, server);
  await stopServer(dataDir, ctx);
  await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
  await withConnection(primary, ctx.password, "postgres", (client) =>
    client.query(
      "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active",
      [slot],
    ),
  );
  return true;
}
