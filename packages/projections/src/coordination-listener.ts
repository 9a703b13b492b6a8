import type pg from "pg";
import type { RuntimeLogger as Logger } from "./runtime-logger.ts";

const RECONNECT_MS = 1_000;

/**
 * Holds one pooled connection LISTENing on the coordination channel (migration 2's triggers
 * notify it when a member joins or leaves and when a unit changes owner) and calls `onChange`
 * with each notification's payload (migration 3: a released unit's key, as JSON). Only a
 * shortcut: the heartbeat tick still polls, so a lost connection makes hand-overs slower
 * (reconnecting meanwhile), never wrong.
 */
export class CoordinationListener {
  readonly #pool: pg.Pool;
  readonly #channel: string;
  readonly #onChange: (payload?: string) => void;
  readonly #logger: Logger;
  #client: pg.PoolClient | undefined;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(pool: pg.Pool, channel: string, onChange: (payload?: string) => void, logger: Logger) {
    this.#pool = pool;
    this.#channel = channel;
    this.#onChange = onChange;
    this.#logger = logger;
  }

  /** Resolves once LISTEN is in place (or failed and a retry is scheduled). */
  async start(): Promise<void> {
    if (this.#closed) return;
    let client: pg.PoolClient | undefined;
    try {
      client = await this.#pool.connect();
      client.on("notification", this.#notified);
      client.on("error", this.#lost);
      await client.query(`LISTEN "${this.#channel}"`);
      this.#client = client;
      if (this.#closed) await this.close();
    } catch (err) {
      client?.release(err as Error);
      this.#logger.warn({ err }, "listening for coordination changes failed; retrying");
      this.#retry = setTimeout(() => void this.start(), RECONNECT_MS);
    }
  }

  readonly #notified = (message: pg.Notification): void => this.#onChange(message.payload);

  readonly #lost = (err: Error): void => {
    const client = this.#client;
    this.#client = undefined;
    client?.removeListener("notification", this.#notified);
    client?.release(err);
    if (this.#closed) return;
    this.#logger.warn({ err }, "coordination listener connection lost; reconnecting");
    this.#retry = setTimeout(() => void this.start(), RECONNECT_MS);
    // Whatever was notified while the connection was down is only seen by a tick.
    this.#onChange();
  };

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    client.removeListener("notification", this.#notified);
    client.removeListener("error", this.#lost);
    try {
      await client.query(`UNLISTEN "${this.#channel}"`);
      client.release();
    } catch (err) {
      client.release(err as Error);
    }
  }
}
