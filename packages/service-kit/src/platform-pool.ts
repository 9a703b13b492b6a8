import pg from "pg";
import type { Logger } from "pino";
import type { ReadinessCheck } from "./readiness.ts";

/** The parsed settings of the platform database a service's pool is built from. */
export interface PlatformPoolEnv {
  readonly DBPLANE_PG_URL: string;
  readonly DBPLANE_PG_POOL_SIZE: number;
}

/** Who the pool is for, plus any pg setting (`max`, `statement_timeout`, …) to add or override. */
export interface PlatformPoolOptions extends Omit<pg.PoolConfig, "connectionString" | "application_name"> {
  /** The service's name; its connections show as `dbplane-<name>` in `pg_stat_activity`. */
  readonly name: string;
  readonly logger: Logger;
}

/**
 * A pool on the platform PostgreSQL database, `DBPLANE_PG_POOL_SIZE` connections unless `max`
 * says otherwise. It listens for `error`: an idle connection that breaks (a server restart, a
 * network blip) emits one on the pool, and unheard it would crash the process; logged, the pool
 * just opens a new connection when next asked.
 */
export function platformPool(config: PlatformPoolEnv, options: PlatformPoolOptions): pg.Pool {
  const { name, logger, ...settings } = options;
  const pool = new pg.Pool({
    connectionString: config.DBPLANE_PG_URL,
    max: config.DBPLANE_PG_POOL_SIZE,
    application_name: `dbplane-${name}`,
    ...settings,
  });
  pool.on("error", (err) => logger.warn({ err }, "idle PostgreSQL connection failed"));
  return pool;
}

/** A readiness check of the pool's database: one round trip. */
export function poolReadiness(pool: pg.Pool): ReadinessCheck {
  return async () => {
    await pool.query("SELECT 1");
  };
}
