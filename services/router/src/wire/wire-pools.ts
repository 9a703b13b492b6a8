import type { PasswordResolver } from "@dbplane/kube";
import { BackendConnection } from "@dbplane/pgwire";
import { shardTls } from "@dbplane/service-kit";
import type { ShardEndpointSpec } from "../domain/shard-map.ts";
import type { LiveMap, LiveShard } from "../shards/live-map.ts";
import { type PoolStats, ServerConnectionPool } from "./server-connection-pool.ts";

type PasswordRef = ShardEndpointSpec["passwordRef"];

/** Sizes and timeouts of the wire endpoint's server pools. */
export interface WirePoolOptions {
  /** Connections per shard server (transaction mode). */
  readonly size: number;
  /** Longest wait for a connection, new or pooled. */
  readonly connectTimeoutMs: number;
  /** A CA file (DBPLANE_SHARD_TLS_CA); set, every connection is TLS with verify-full. */
  readonly shardCa?: string | undefined;
}

/** The role the router logs in to shards as: the database's application role when it has one. */
function loginOf(map: LiveMap, shard: LiveShard): { user: string; passwordRef: PasswordRef } {
  return map.application ?? { user: shard.spec.user, passwordRef: shard.spec.passwordRef };
}

/**
 * The wire endpoint's pools, one per shard primary and login, shared by every session and every
 * map version naming the same server. Separate from the HTTP API's pg.Pool pools: those speak
 * node-postgres, these relay protocol messages.
 */
export class WirePools {
  readonly #pools = new Map<string, ServerConnectionPool>();
  /** Per map version's shard: the lookup below runs once per version, not per statement. */
  readonly #byShard = new WeakMap<LiveShard, ServerConnectionPool>();
  readonly #options: WirePoolOptions;
  readonly #passwords: PasswordResolver;

  constructor(options: WirePoolOptions, passwords: PasswordResolver) {
    this.#options = options;
    this.#passwords = passwords;
  }

  /** The pool of a shard's primary in this map version. */
  primary(map: LiveMap, shard: LiveShard): ServerConnectionPool {
    const known = this.#byShard.get(shard);
    if (known) return known;
    const pool = this.#server(map, shard, shard.spec.primary, false);
    this.#byShard.set(shard, pool);
    return pool;
  }

  /** The pool of one of a shard's replicas (an endpoint of `shard.spec.replicas`). */
  replica(map: LiveMap, shard: LiveShard, endpoint: { host: string; port: number }): ServerConnectionPool {
    return this.#server(map, shard, endpoint, true);
  }

  #server(
    map: LiveMap,
    shard: LiveShard,
    { host, port }: { host: string; port: number },
    replica: boolean,
  ): ServerConnectionPool {
    const { user, passwordRef } = loginOf(map, shard);
    const dbname = shard.spec.dbname;
    const key = `${user}@${host}:${port}/${dbname}#${JSON.stringify(passwordRef)}`;
    let pool = this.#pools.get(key);
    if (!pool) {
      const open = async () => {
        const tls = await shardTls(this.#options.shardCa);
        return BackendConnection.connect({
          host,
          port,
          user,
          database: dbname,
          password: await this.#passwords.resolve(passwordRef),
          parameters: { application_name: "dbplane-router-wire" },
          connectTimeoutMs: this.#options.connectTimeoutMs,
          ...(tls && { tls: { ca: tls.ca } }),
        });
      };
      pool = new ServerConnectionPool(
        `${map.database} shard ${shard.index} ${replica ? "replica" : "primary"} (${host}:${port})`,
        shard.index,
        open,
        this.#options.size,
        this.#options.connectTimeoutMs,
        replica,
      );
      this.#pools.set(key, pool);
    }
    return pool;
  }

  /** Every pool's counts, labelled by the pool, for metrics. */
  stats(): { label: string; shard: number; stats: PoolStats }[] {
    return [...this.#pools.values()].map((pool) => ({
      label: pool.label,
      shard: pool.shard,
      stats: pool.stats(),
    }));
  }

  /**
   * Closes the pools no current map version uses (a database deleted, a server replaced):
   * idle connections now, checked-out ones when their session returns them.
   */
  prune(maps: readonly LiveMap[]): void {
    const inUse = new Set<ServerConnectionPool>();
    for (const map of maps) {
      for (const shard of map.shards.values()) {
        inUse.add(this.primary(map, shard));
        for (const endpoint of shard.spec.replicas) inUse.add(this.replica(map, shard, endpoint));
      }
    }
    for (const [key, pool] of this.#pools) {
      if (inUse.has(pool)) continue;
      pool.close();
      this.#pools.delete(key);
    }
  }

  closeAll(): void {
    for (const pool of this.#pools.values()) pool.close();
    this.#pools.clear();
  }
}
