import {
  findMessageByType,
  type MessageDefinition,
  type MessageInput,
  parseMessageData,
} from "@dbplane/contracts";
import type pg from "pg";
import type { ProvisionerTables } from "./schema-tables.ts";

/** One event waiting in the outbox. */
export interface OutboxEntry {
  readonly seq: number;
  readonly def: MessageDefinition;
  readonly msgId: string;
  readonly subject: string;
  readonly data: unknown;
  readonly correlationId: string | undefined;
}

/**
 * Writes an event in the caller's transaction. The data is validated now, so a bad event fails
 * the state change that would have caused it instead of poisoning the outbox later.
 */
export async function enqueueEvent<D extends MessageDefinition>(
  client: pg.ClientBase,
  t: ProvisionerTables,
  def: D,
  data: MessageInput<D>,
  meta: { id: string; subject: string; correlationId?: string | undefined },
): Promise<void> {
  const parsed = parseMessageData(def, data);
  await client.query(
    `INSERT INTO ${t.outbox} (type, msg_id, subject, data, correlation_id) VALUES ($1, $2, $3, $4, $5)`,
    [def.type, meta.id, meta.subject, JSON.stringify(parsed), meta.correlationId ?? null],
  );
}

/**
 * Publishes waiting events in order and deletes each once JetStream has it. One drainer at a time
 * across replicas (a transaction-scoped advisory lock), so events leave in the order they were
 * written. A publish that fails leaves its row (and those after it) for the next drain; the msg id
 * makes a re-publish after a lost ack a duplicate JetStream drops.
 * @returns how many events were published.
 */
export async function drainOutbox(
  pool: pg.Pool,
  t: ProvisionerTables,
  publish: (entry: OutboxEntry) => Promise<void>,
  batch = 100,
): Promise<number> {
  const client = await pool.connect();
  let published = 0;
  try {
    await client.query("BEGIN");
    const { rows: lock } = await client.query<{ ok: boolean }>(
      "SELECT pg_try_advisory_xact_lock(hashtext('dbplane.provisioner.outbox'), hashtext($1)) AS ok",
      [t.schema],
    );
    if (!lock[0]?.ok) {
      await client.query("ROLLBACK");
      return 0;
    }
    const { rows } = await client.query(
      `SELECT seq, type, msg_id, subject, data, correlation_id FROM ${t.outbox} ORDER BY seq LIMIT $1`,
      [batch],
    );
    try {
      for (const row of rows) {
        const def = findMessageByType(row.type);
        if (!def) throw new Error(`outbox holds an unknown message type ${row.type}`);
        await publish({
          seq: Number(row.seq),
          def,
          msgId: row.msg_id,
          subject: row.subject,
          data: row.data,
          correlationId: row.correlation_id ?? undefined,
        });
        await client.query(`DELETE FROM ${t.outbox} WHERE seq = $1`, [row.seq]);
        published++;
      }
    } finally {
      // Keep the deletes of what did go out, even when a later publish failed. After a crash
      // before this commit the batch goes out again: the msg ids make those duplicates.
      await client.query("COMMIT");
    }
    return published;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
