import type { BackendConnection } from "@dbplane/pgwire";
import { TransactionStatus, WireError } from "@dbplane/pgwire";
import { ServerConnection } from "./server-connection.ts";

/** An idle connection's receiver: the server says nothing unasked that a client should see. */
const ignore = (): void => {};

/** A server's refusal for lack of resources (53300 too many connections, 53000, …). */
function isOutOfConnections(error: unknown): boolean {
  return error instanceof WireError && error.fields.code.startsWith("53");
}

/** How long a pool that has connections waits before trying to grow again after a 53xxx refusal. */
const GROW_RETRY_MS = 1_000;

/** Counts of one pool, for metrics. */
export interface PoolStats {
  readonly inUse: number;
  readonly idle: number;
  readonly waiting: number;
}

/** A client waited longer than the connect timeout for a server connection. */
export class PoolTimeoutError extends Error {
  readonly code = "POOL_TIMEOUT";

  constructor(what: string, ms: number) {
    super(`no connection to ${what} within ${ms} ms`);
    this.name = "PoolTimeoutError";
  }
}

/**
 * Transaction-mode connections to one shard server, PgBouncer's `default_pool_size` style: at
 * most `max` open, a client holds one only for a transaction (or one statement), later clients
 * queue in order. Session settings are reconciled by the next client that checks a connection
 * out (RESET ALL only when they differ); a connection returned inside a transaction is rolled
 * back, one returned with work in flight (its client vanished mid-query) is closed, never reused.
 */
export class ServerConnectionPool {
  readonly label: string;
  readonly shard: number;
  /** A replica's pool: its connections serve reads only. */
  readonly replica: boolean;
  readonly #open: () => Promise<BackendConnection>;
  readonly #max: number;
  readonly #waitMs: number;
  readonly #idle: ServerConnection[] = [];
  readonly #waiters: { resolve: (c: ServerConnection) => void; reject: (e: Error) => void }[] = [];
  #size = 0;
  #closed = false;
  /** Until when the pool does not grow (the server refused a connection for lack of slots). */
  #growRefusedUntil = 0;
  /** The first server greeting seen: ParameterStatus values to announce to clients. */
  parameters: Readonly<Record<string, string>> | undefined;

  constructor(
    label: string,
    shard: number,
    open: () => Promise<BackendConnection>,
    max: number,
    waitMs: number,
    replica = false,
  ) {
    this.label = label;
    this.shard = shard;
    this.replica = replica;
    this.#open = open;
    this.#max = max;
    this.#waitMs = waitMs;
  }

  stats(): PoolStats {
    return { inUse: this.#size - this.#idle.length, idle: this.#idle.length, waiting: this.#waiters.length };
  }

  /** An idle connection, without waiting (no promise, no microtask), or undefined. */
  takeIdle(): ServerConnection | undefined {
    if (this.#closed) return undefined;
    for (let connection = this.#idle.pop(); connection; connection = this.#idle.pop()) {
      if (!connection.closed) return connection;
      this.#size--;
    }
    return undefined;
  }

  async checkout(): Promise<ServerConnection> {
    if (this.#closed) throw new Error(`pool of ${this.label} is closed`);
    const idle = this.takeIdle();
    if (idle) return idle;
    // After a refusal for lack of slots, the pool makes do with what it has for a while: trying
    // again at every checkout would cost a connect each (and the server a fork) for nothing.
    if (this.#size < this.#max && (this.#size === 0 || Date.now() >= this.#growRefusedUntil)) {
      try {
        return await this.#grow();
      } catch (error) {
        // The server takes no more connections (its max_connections, shared with others, or the
        // role's limit: SQLSTATE class 53): while this pool has some, wait for one of them, as
        // PgBouncer does, rather than fail the client's statement.
        if (this.#size === 0 || this.#closed || !isOutOfConnections(error)) throw error;
        this.#growRefusedUntil = Date.now() + GROW_RETRY_MS;
        // One may have come back while the connect was being refused.
        const freed = this.takeIdle();
        if (freed) return freed;
      }
    }
    return this.#wait();
  }

  #wait(): Promise<ServerConnection> {
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      const timer = setTimeout(() => {
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) this.#waiters.splice(at, 1);
        reject(new PoolTimeoutError(this.label, this.#waitMs));
      }, this.#waitMs);
      waiter.resolve = (c) => {
        clearTimeout(timer);
        resolve(c);
      };
      waiter.reject = (e) => {
        clearTimeout(timer);
        reject(e);
      };
      this.#waiters.push(waiter);
    });
  }

  async #grow(): Promise<ServerConnection> {
    this.#size++;
    try {
      const backend = await this.#open();
      this.parameters ??= { ...backend.parameters };
      return new ServerConnection(backend, this.shard, this, this.replica);
    } catch (error) {
      this.#size--;
      throw error;
    }
  }

  /** Takes a connection back: cleaned up if it must be, then to the next waiter or the idle list. */
  release(connection: ServerConnection): void {
    if (connection.closed || connection.owed > 0 || this.#closed) {
      this.#drop(connection);
      return;
    }
    if (connection.status !== TransactionStatus.Idle) {
      void this.#rollback(connection);
      return;
    }
    this.#handOn(connection);
  }

  /** A client left in a transaction (it went away): rolled back before anyone else gets it. */
  async #rollback(connection: ServerConnection): Promise<void> {
    try {
      await connection.run("ROLLBACK");
    } catch {
      // Closed meanwhile: dropped below.
    }
    if (connection.closed || connection.status !== TransactionStatus.Idle) this.#drop(connection);
    else this.#handOn(connection);
  }

  #handOn(connection: ServerConnection): void {
    connection.receiver = ignore;
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(connection);
    else this.#idle.push(connection);
  }

  #drop(connection: ServerConnection): void {
    connection.backend.close();
    this.#size--;
    const waiter = this.#waiters.shift();
    if (waiter && !this.#closed) this.#grow().then(waiter.resolve, waiter.reject);
  }

  close(): void {
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error(`pool of ${this.label} is closed`));
    for (const connection of this.#idle.splice(0)) connection.backend.close();
  }
}
