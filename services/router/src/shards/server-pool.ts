import type { Logger, ShardTls } from "@dbplane/service-kit";
import pg from "pg";

/** Limits applied to every shard connection. */
export interface ShardPoolLimits {
  readonly max: number;
  readonly statementTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

/** What the last probe (or query) said about a server. */
export interface ServerHealth {
  status: "unknown" | "up" | "down";
  /** Replicas: replay lag; 0 for primaries. */
  lagMs: number;
  /** Replicas: false when the server is not in recovery (promoted or misconfigured). */
  inRecovery: boolean | undefined;
  checkedAt: string | undefined;
  error: string | undefined;
}

/** Where a server is: what identifies a pool (the password is resolved, never part of the key). */
export interface ServerAddress {
  readonly host: string;
  readonly port: number;
  readonly dbname: string;
  readonly user: string;
}

/** When each pooled connection was opened (performance.now()). */
const openedAt = new WeakMap<pg.Client, number>();
/** When a connection of each pool was last found lost (the server terminated it, or restarted). */
const lostAt = new WeakMap<pg.Pool, number>();

/**
 * A connection of `pool` that was not opened before one of its connections was found lost. When
 * the server terminates its backends (a restart, pg_terminate_backend, a failover's fence) every
 * idle connection is dead, but the pool learns it one connection at a time, each one a failed
 * statement — and a read's one retry could take the next dead one. So after a loss every
 * connection opened before it is closed at checkout instead of used (as Npgsql clears its pool
 * when it finds a connection broken).
 */
export async function checkoutFresh(pool: pg.Pool): Promise<pg.PoolClient> {
  for (;;) {
    const client = await pool.connect();
    const since = lostAt.get(pool);
    if (since === undefined || (openedAt.get(client) ?? 0) > since) return client;
    client.release(new Error("opened before a connection of its pool was found lost"));
  }
}

/**
 * The connections to one PostgreSQL server: a read-write pool and, created on first use, a pool
 * whose sessions default to read-only transactions (reads routed to a primary must not write).
 */
export class ServerPool {
  readonly key: string;
  readonly address: ServerAddress;
  readonly health: ServerHealth = {
    status: "unknown",
    lagMs: 0,
    inRecovery: undefined,
    checkedAt: undefined,
    error: undefined,
  };
  /** Set when the server cannot be used at all (its password is unavailable). */
  readonly unusable: string | undefined;
  refs = 0;
  readonly #config: pg.PoolConfig;
  readonly #logger: Logger;
  #pool: pg.Pool | undefined;
  #readOnlyPool: pg.Pool | undefined;

  constructor(
    key: string,
    address: ServerAddress,
    password: (() => Promise<string>) | undefined,
    limits: ShardPoolLimits,
    logger: Logger,
    unusable?: string,
    /** Set: TLS with verify-full; unset: plain connections. */
    tls?: ShardTls,
  ) {
    this.key = key;
    this.address = address;
    this.unusable = unusable;
    this.#logger = logger;
    this.#config = {
      host: address.host,
      port: address.port,
      database: address.dbname,
      user: address.user,
      ...(password !== undefined && { password }),
      max: limits.max,
      connectionTimeoutMillis: limits.connectTimeoutMs,
      idleTimeoutMillis: 30_000,
      statement_timeout: limits.statementTimeoutMs,
      application_name: "dbplane-router",
      keepAlive: true,
      ...(tls && { ssl: { ...tls } }),
    };
  }

  /** The read-write pool. */
  get pool(): pg.Pool {
    this.#pool ??= this.#open(this.#config);
    return this.#pool;
  }

  /** Sessions with `default_transaction_read_only=on`: PostgreSQL itself refuses writes (25006). */
  get readOnlyPool(): pg.Pool {
    this.#readOnlyPool ??= this.#open({ ...this.#config, options: "-c default_transaction_read_only=on" });
    return this.#readOnlyPool;
  }

  #open(config: pg.PoolConfig): pg.Pool {
    const pool = new pg.Pool(config);
    // An idle connection dropped by the server must not crash the process; the next query
    // through the pool opens a new one (or reports the shard down).
    pool.on("error", (err) => this.#logger.warn({ err, server: this.key }, "idle shard connection failed"));
    pool.on("connect", (client) => openedAt.set(client, performance.now()));
    return pool;
  }

  /** A connection to this server was found lost: the others opened before now are not used again. */
  connectionLost(): void {
    const now = performance.now();
    if (this.#pool) lostAt.set(this.#pool, now);
    if (this.#readOnlyPool) lostAt.set(this.#readOnlyPool, now);
  }

  markUp(lagMs = 0): void {
    this.health.status = "up";
    this.health.lagMs = lagMs;
    this.health.error = undefined;
    this.health.checkedAt = new Date().toISOString();
  }

  markDown(error: string): void {
    this.health.status = "down";
    this.health.error = error;
    this.health.checkedAt = new Date().toISOString();
  }

  /** Waits for checked-out clients to be released, then closes every connection. */
  async close(): Promise<void> {
    await Promise.all([this.#pool?.end(), this.#readOnlyPool?.end()]);
  }
}
