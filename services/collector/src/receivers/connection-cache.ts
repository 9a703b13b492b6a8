import { shardTls } from "@dbplane/service-kit";
import type { TargetSpec } from "../domain/target-spec.ts";
import type { Receiver, ReceiverLimits, TargetConnection } from "./receiver.ts";
import { RECEIVERS } from "./receivers.ts";

interface Entry {
  readonly fingerprint: string;
  readonly connection: TargetConnection;
  /** Kept only to scrub it from failure reasons; never logged. */
  readonly password: string | undefined;
  inUse: number;
}

/** Resolves a target's password (from a Secret, a file, or the static config). */
export type PasswordLookup = (spec: TargetSpec) => Promise<string | undefined>;

/**
 * The open connections of this replica, one pool per target, at most `maxOpen` pools at once:
 * when a replica owns more targets than that, the least recently used idle pool is closed, so a
 * large fleet costs the monitored servers a bounded number of connections (at the price of a
 * reconnect per collection for the targets beyond the budget).
 */
export class ConnectionCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxOpen: number;
  readonly #limits: ReceiverLimits;
  readonly #passwords: PasswordLookup;
  readonly #receivers: Readonly<Record<TargetSpec["engine"], Receiver>>;

  constructor(maxOpen: number, limits: ReceiverLimits, passwords: PasswordLookup, receivers = RECEIVERS) {
    this.#maxOpen = maxOpen;
    this.#limits = limits;
    this.#passwords = passwords;
    this.#receivers = receivers;
  }

  get open(): number {
    return this.#entries.size;
  }

  /** Runs `work` on the target's connection (opened if needed); `password` is for scrubbing errors only. */
  async use<T>(
    spec: TargetSpec,
    work: (conn: TargetConnection, password: string | undefined) => Promise<T>,
  ): Promise<T> {
    const entry = await this.#entryFor(spec);
    entry.inUse++;
    try {
      return await work(entry.connection, entry.password);
    } finally {
      entry.inUse--;
      if (entry.inUse === 0 && this.#entries.get(spec.id) !== entry)
        void entry.connection.close().catch(() => {});
      this.#evict();
    }
  }

  /**
   * Forgets the target's connection (after a timeout left it in an unknown state, or the target
   * left). It closes in the background — now, or when the collection still using it ends, so a
   * collection in flight when its target moves finishes normally instead of failing as "down".
   * Nothing waits for the close: a server that never answers must not hold up collection.
   */
  drop(id: string): void {
    const entry = this.#entries.get(id);
    if (!entry) return;
    this.#entries.delete(id);
    if (entry.inUse === 0) this.#close(entry);
  }

  /** Closes every connection, waiting at most `timeoutMs` for the servers to acknowledge. */
  async closeAll(timeoutMs = 5_000): Promise<void> {
    const closing = [...this.#entries.values()].map((entry) => entry.connection.close().catch(() => {}));
    this.#entries.clear();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([Promise.all(closing), deadline]);
    clearTimeout(timer);
  }

  #close(entry: Entry): void {
    void entry.connection.close().catch(() => {});
  }

  async #entryFor(spec: TargetSpec): Promise<Entry> {
    const fingerprint = JSON.stringify([spec.engine, spec.url, spec.credential]);
    const existing = this.#entries.get(spec.id);
    if (existing && existing.fingerprint === fingerprint) {
      // Re-insert: Map order is our recency order.
      this.#entries.delete(spec.id);
      this.#entries.set(spec.id, existing);
      return existing;
    }
    if (existing) this.drop(spec.id);
    const password = await this.#passwords(spec);
    // Only servers the provisioner made carry certificates from the shard CA; a static or
    // discovered target says how to reach it in its own URL (sslmode=…).
    const tls =
      spec.source === "provisioner" && spec.engine === "postgresql"
        ? await shardTls(this.#limits.shardCa)
        : undefined;
    const entry: Entry = {
      fingerprint,
      connection: this.#receivers[spec.engine](spec, password, this.#limits, tls),
      password,
      inUse: 0,
    };
    this.#entries.set(spec.id, entry);
    return entry;
  }

  #evict(): void {
    if (this.#entries.size <= this.#maxOpen) return;
    for (const [id, entry] of this.#entries) {
      if (this.#entries.size <= this.#maxOpen) break;
      if (entry.inUse === 0) this.drop(id);
    }
  }
}
