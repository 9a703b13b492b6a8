import type { PasswordResolver } from "@dbplane/kube";
import { type Logger, type ShardTls, shardTls } from "@dbplane/service-kit";
import type { ShardEndpointSpec } from "../domain/shard-map.ts";
import { type ServerAddress, ServerPool, type ShardPoolLimits } from "./server-pool.ts";

/**
 * Reference-counted pools keyed by server address and password reference, shared by every map
 * version that names the same server: a new version of a map reuses the warm connections. A pool
 * no version needs any more is closed after `retireMs`, so requests that picked it up from the
 * old map finish on it instead of failing.
 */
export class ServerPoolRegistry {
  readonly #pools = new Map<string, ServerPool>();
  readonly #retiring = new Map<string, NodeJS.Timeout>();
  readonly #limits: ShardPoolLimits;
  readonly #retireMs: number;
  readonly #logger: Logger;
  readonly #passwords: PasswordResolver;
  readonly #shardCa: string | undefined;

  /** `shardCa`: a CA file; set, every connection is TLS with verify-full (DBPLANE_SHARD_TLS_CA). */
  constructor(
    limits: ShardPoolLimits,
    retireMs: number,
    logger: Logger,
    passwords: PasswordResolver,
    shardCa?: string,
  ) {
    this.#limits = limits;
    this.#shardCa = shardCa;
    this.#passwords = passwords;
    this.#retireMs = retireMs;
    this.#logger = logger;
  }

  /** The pool of a server (created on first use); pair with `release`. */
  async acquire(address: ServerAddress, passwordRef: ShardEndpointSpec["passwordRef"]): Promise<ServerPool> {
    const key = `${address.user}@${address.host}:${address.port}/${address.dbname}#${JSON.stringify(passwordRef)}`;
    let pool = this.#pools.get(key);
    if (!pool) {
      let password: string | undefined;
      let unusable: string | undefined;
      let tls: ShardTls | undefined;
      try {
        tls = await shardTls(this.#shardCa);
        password = await this.#passwords.resolve(passwordRef);
      } catch (err) {
        unusable = (err as Error).message;
      }
      // Another acquire may have created it while the password was read.
      pool = this.#pools.get(key);
      if (!pool) {
        const current = password === undefined ? undefined : this.#refresher(key, passwordRef, password);
        pool = new ServerPool(key, address, current, this.#limits, this.#logger, unusable, tls);
        if (unusable) pool.markDown(unusable);
        this.#pools.set(key, pool);
      }
    }
    pool.refs++;
    const timer = this.#retiring.get(key);
    if (timer) {
      clearTimeout(timer);
      this.#retiring.delete(key);
    }
    return pool;
  }

  /**
   * The password for each new connection, re-resolved (a Secret's is cached for a short TTL) so a
   * rotated password is used without restarting; when the reference cannot be read right now (an
   * API blip), the last password read keeps serving rather than failing healthy shards.
   */
  #refresher(key: string, ref: ShardEndpointSpec["passwordRef"], first: string): () => Promise<string> {
    let last = first;
    return async () => {
      try {
        last = await this.#passwords.resolve(ref);
      } catch (err) {
        this.#logger.warn(
          { server: key, reason: (err as Error).message },
          "password refresh failed; using the last one",
        );
      }
      return last;
    };
  }

  release(pool: ServerPool): void {
    pool.refs--;
    if (pool.refs > 0 || this.#retiring.has(pool.key)) return;
    const timer = setTimeout(() => {
      this.#retiring.delete(pool.key);
      if (pool.refs > 0) return;
      this.#pools.delete(pool.key);
      pool
        .close()
        .catch((err) => this.#logger.warn({ err, server: pool.key }, "closing a retired pool failed"));
    }, this.#retireMs);
    timer.unref();
    this.#retiring.set(pool.key, timer);
  }

  /** Every pool in use, for health probes. */
  all(): ServerPool[] {
    return [...this.#pools.values()];
  }

  async closeAll(): Promise<void> {
    for (const timer of this.#retiring.values()) clearTimeout(timer);
    this.#retiring.clear();
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }
}
