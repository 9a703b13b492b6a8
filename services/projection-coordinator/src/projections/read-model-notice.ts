import type { ProjectionTables, ProjectionTx } from "@dbplane/projections";

/** The PostgreSQL channel every coordinator replica LISTENs on for read-model changes. */
export const READ_MODEL_CHANNEL = "dbplane_read_models";

/** What a notification says: which schema and read model changed, and by which event types. */
export interface ReadModelNotice {
  readonly schema: string;
  readonly model: string;
  readonly types: readonly string[];
}

/** NOTIFY payloads are limited to 8000 bytes: name the first types only. */
const MAX_TYPES = 20;

/**
 * Tells the console's live streams that `model` changed. Sent inside the projection's own
 * transaction, so it is delivered on commit only — a browser never refetches before the change
 * is visible — and identical notices of one transaction collapse into one (PostgreSQL dedupes).
 */
export async function noticeReadModelChange(
  tx: ProjectionTx,
  tables: ProjectionTables,
  model: string,
  types: readonly string[],
): Promise<void> {
  const notice: ReadModelNotice = {
    schema: tables.schema,
    model,
    types: [...new Set(types)].sort().slice(0, MAX_TYPES),
  };
  await tx.query("SELECT pg_notify($1, $2)", [READ_MODEL_CHANNEL, JSON.stringify(notice)]);
}
