import { schemaTables } from "@dbplane/service-kit";

/** The scheduler's tables, schema-qualified and quoted, ready to interpolate into SQL. */
export interface SchedulerTables {
  readonly schema: string;
  readonly jobs: string;
  readonly runs: string;
  readonly replicas: string;
  readonly deliveries: string;
  readonly deliveryAttempts: string;
  readonly migrations: string;
}

export const defaultSchema = "scheduler";

/**
 * Qualified table names for a schema. The name is checked, not escaped: it comes from config
 * or a test, and a name that needs escaping is a mistake worth failing on at start-up.
 */
export function schedulerTables(schema: string = defaultSchema): SchedulerTables {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new TypeError(
      `scheduler schema name must be a lower-case PostgreSQL identifier, got ${JSON.stringify(schema)}`,
    );
  }
  return schemaTables(schema, {
    jobs: "jobs",
    runs: "runs",
    replicas: "replicas",
    deliveries: "deliveries",
    deliveryAttempts: "delivery_attempts",
  });
}
