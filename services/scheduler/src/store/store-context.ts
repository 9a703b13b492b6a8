import type pg from "pg";
import type { SchedulerTables } from "./schema-tables.ts";

/** What every store module needs: the pool and the schema's table names. */
export interface StoreContext {
  readonly pool: pg.Pool;
  readonly t: SchedulerTables;
}
