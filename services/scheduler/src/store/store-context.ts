import { createHash } from "node:crypto";
import type pg from "pg";
import type { SchedulerTables } from "./schema-tables.ts";

/** What every store module needs: the pool and the schema's table names. */
export interface StoreContext {
  readonly pool: pg.Pool;
  readonly t: SchedulerTables;
  /**
   * The name under which a hot statement is prepared on each connection (parsed and planned
   * once, not on every batch: for the firing path's small statements planning cost as much as
   * executing). Unique per schema, since the text names the schema's tables.
   */
  statement(key: string): string;
}

export function storeContext(pool: pg.Pool, t: SchedulerTables): StoreContext {
  const suffix = createHash("sha256").update(t.schema).digest("hex").slice(0, 12);
  return { pool, t, statement: (key) => `dbplane_scheduler_${key}_${suffix}` };
}
