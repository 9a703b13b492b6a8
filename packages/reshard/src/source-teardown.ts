import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";

/** How long a slot's walsender may take to go away on its own after its subscription stopped. */
const SLOT_RELEASE_WAIT_MS = 10_000;

/**
 * Drops the slots named `names` or matching `pattern` (LIKE) if they exist. A slot still held by a
 * walsender cannot be dropped: after a stopped subscription the walsender exits by itself once it
 * notices; one that outlives SLOT_RELEASE_WAIT_MS is terminated.
 */
export async function dropSlots(
  client: pg.Client,
  names: readonly string[],
  pattern?: string,
): Promise<void> {
  const deadline = Date.now() + SLOT_RELEASE_WAIT_MS;
  for (;;) {
    const { rows } = await client.query<{ slot_name: string; active_pid: number | null }>(
      `SELECT slot_name, active_pid FROM pg_replication_slots
        WHERE slot_name = ANY ($1::text[]) OR ($2::text IS NOT NULL AND slot_name LIKE $2)`,
      [names, pattern ?? null],
    );
    if (rows.length === 0) return;
    let held = false;
    for (const slot of rows) {
      if (slot.active_pid === null) {
        await client.query(
          "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active",
          [slot.slot_name],
        );
      } else if (Date.now() > deadline) {
        await client.query("SELECT pg_terminate_backend($1)", [slot.active_pid]);
        held = true;
      } else {
        held = true;
      }
    }
    if (held) await sleep(100);
  }
}

/** Drops the publication and the role (its grants first: a role that holds privileges cannot be dropped). */
export async function dropPublicationAndRole(client: pg.Client, name: string): Promise<void> {
  await client.query(`DROP PUBLICATION IF EXISTS ${pg.escapeIdentifier(name)}`);
  const { rowCount } = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [name]);
  if (!rowCount) return;
  await client.query(`DROP OWNED BY ${pg.escapeIdentifier(name)}`);
  await client.query(`DROP ROLE ${pg.escapeIdentifier(name)}`);
}
