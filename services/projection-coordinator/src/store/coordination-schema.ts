import { type CoordinationTables, coordinationMigrations, coordinationTables } from "@dbplane/projections";
import { migrateSchema } from "@dbplane/service-kit";
import type pg from "pg";

/**
 * Brings the coordination schema up to date (members, generations, units, moves, parked).
 * Safe when replicas start together: migrateSchema holds an advisory lock for the run.
 */
export async function migrateCoordinationSchema(pool: pg.Pool, schema: string): Promise<CoordinationTables> {
  const tables = coordinationTables(schema);
  await migrateSchema(pool, "projection-coordinator", tables, coordinationMigrations);
  return tables;
}
