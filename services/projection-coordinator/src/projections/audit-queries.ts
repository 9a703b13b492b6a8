import type { GenerationStore } from "@dbplane/projections";
import { projectionTables } from "@dbplane/projections";
import type pg from "pg";
import { type AuditCursor, encodeAuditCursor } from "../domain/audit-cursor.ts";

export interface AuditQuery {
  readonly from?: Date | undefined;
  readonly to?: Date | undefined;
  readonly type?: string | undefined;
  readonly subject?: string | undefined;
  readonly limit: number;
  readonly after?: AuditCursor | undefined;
  /** `desc`: newest first (a log view), the cursor then pages back in time. Default `asc`. */
  readonly order?: "asc" | "desc" | undefined;
}

export interface AuditEntry {
  readonly seq: number;
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly subject: string;
  readonly time: string;
  readonly correlationid: string | null;
  readonly data: unknown;
}

/** A page of the audit log from the active generation, oldest first unless `order` is `desc`. */
export async function queryAudit(
  pool: pg.Pool,
  generations: GenerationStore,
  schema: string,
  q: AuditQuery,
): Promise<{ items: AuditEntry[]; nextCursor: string | null; generation: number | null }> {
  const active = await generations.active("audit");
  if (!active) return { items: [], nextCursor: null, generation: null };
  const events = projectionTables(schema, "audit", active.generation).table("events");
  // Both come from this closed set, never from the request's text.
  const [beyond, direction] = q.order === "desc" ? ["<", "DESC"] : [">", "ASC"];
  const { rows } = await pool.query<Omit<AuditEntry, "time"> & { t: Date }>(
    `SELECT seq::float8 AS seq, id, type, source, subject, time AS t, correlationid, data
     FROM ${events}
     WHERE ($1::timestamptz IS NULL OR time >= $1) AND ($2::timestamptz IS NULL OR time < $2)
       AND ($3::text IS NULL OR type = $3) AND ($4::text IS NULL OR subject = $4)
       AND ($5::timestamptz IS NULL OR (time, seq) ${beyond} ($5, $6::bigint))
     ORDER BY time ${direction}, seq ${direction} LIMIT $7`,
    [
      q.from ?? null,
      q.to ?? null,
      q.type ?? null,
      q.subject ?? null,
      q.after?.time ?? null,
      q.after?.seq ?? 0,
      q.limit,
    ],
  );
  const last = rows.length === q.limit ? rows.at(-1) : undefined;
  return {
    items: rows.map(({ t, ...entry }) => ({ ...entry, time: t.toISOString() })),
    nextCursor: last ? encodeAuditCursor({ time: last.t.toISOString(), seq: last.seq }) : null,
    generation: active.generation,
  };
}
