import {
  defineProjection,
  type ProjectionEvent,
  type ProjectionTables,
  type ProjectionTx,
} from "@dbplane/projections";
import { noticeReadModelChange } from "./read-model-notice.ts";

/** Every event on the bus, kept for queries by time, type and subject. */
export const auditProjection = defineProjection({
  name: "audit",
  version: 1,
  partitions: 8,
  events: { subjects: ["dbplane.evt.>"] },
  async setup(tx, tables) {
    const events = tables.table("events");
    await tx.query(`
      CREATE TABLE ${events} (
        seq           bigint PRIMARY KEY,
        id            text NOT NULL,
        type          text NOT NULL,
        source        text NOT NULL,
        subject       text NOT NULL,
        time          timestamptz NOT NULL,
        correlationid text,
        data          jsonb NOT NULL
      );
      CREATE INDEX ON ${events} (time, seq);
      CREATE INDEX ON ${events} (type, time, seq);
      CREATE INDEX ON ${events} (subject, time, seq);
    `);
  },
  handle: (event, tx, tables) => insertEvents([event], tx, tables),
  handleBatch: insertEvents,
});

/** One statement per batch: the rows travel as one JSON array parameter. */
async function insertEvents(
  events: readonly ProjectionEvent[],
  tx: ProjectionTx,
  tables: ProjectionTables,
): Promise<void> {
  const rows = events.map((e) => ({
    seq: e.seq,
    id: e.id,
    type: e.type,
    source: e.source,
    subject: e.subject,
    time: e.time,
    correlationid: e.correlationid ?? null,
    data: e.data,
  }));
  await tx.query(
    `INSERT INTO ${tables.table("events")} (seq, id, type, source, subject, time, correlationid, data)
     SELECT seq, id, type, source, subject, time, correlationid, data
     FROM jsonb_to_recordset($1::jsonb)
       AS r(seq bigint, id text, type text, source text, subject text, time timestamptz, correlationid text, data jsonb)`,
    [JSON.stringify(rows)],
  );
  await noticeReadModelChange(
    tx,
    tables,
    "audit",
    events.map((e) => e.type),
  );
}
