import type { Release, WriteFence, WritePlan } from "../fence/write-fence.ts";

/** No shards: only the replica's lease is asked. */
const LEASE_ONLY: WritePlan = { mapVersion: Number.MAX_SAFE_INTEGER, shards: [] };

/**
 * A wire session's claims on shards it writes to, through the write fence. Outside a
 * transaction a claim lasts until the session's next ReadyForQuery (the statement, or the
 * extended-protocol batch, has ended on the server); inside a read-write transaction until it
 * ends — a fence on a shard such a transaction holds is acknowledged only after its COMMIT or
 * ROLLBACK. A shard already claimed is not asked for again (the fence, raised since, waits for
 * this very transaction), but the replica's lease still is.
 */
export class SessionWrites {
  readonly #fence: Pick<WriteFence, "admitNow" | "admit">;
  readonly #database: string;
  readonly #claimed = new Set<number>();
  #releases: Release[] = [];
  #hold: AbortController | undefined;

  constructor(fence: Pick<WriteFence, "admitNow" | "admit">, database: string) {
    this.#fence = fence;
    this.#database = database;
  }

  /** Claims `plan`'s shards now, if nothing holds them; false: call `admit`. */
  tryAdmit(plan: WritePlan): boolean {
    const release = this.#fence.admitNow(this.#database, this.#unclaimed(plan));
    if (release === undefined) return false;
    this.#claim(plan.shards, release);
    return true;
  }

  /**
   * Waits until the write may go; `plan` (called again after each wait) routes it under the
   * session's current map. Rejects with FenceHoldError, or FenceHoldAbortedError on `cancel`.
   */
  async admit(plan: () => WritePlan): Promise<void> {
    let planned: WritePlan | undefined;
    this.#hold = new AbortController();
    try {
      const release = await this.#fence.admit(
        this.#database,
        () => {
          planned = plan();
          return this.#unclaimed(planned);
        },
        this.#hold.signal,
      );
      this.#claim(planned!.shards, release);
    } finally {
      this.#hold = undefined;
    }
  }

  /**
   * Waits while this replica's lease has lapsed: a COMMIT makes a transaction's writes visible,
   * and a coordinator may have passed a lapsed replica by. Rejects like `admit`.
   */
  async whileAdmitting(): Promise<void> {
    if (this.tryAdmit(LEASE_ONLY)) return;
    await this.admit(() => LEASE_ONLY);
  }

  /** Gives up a write being held (CancelRequest, or the client went away). */
  cancel(): void {
    this.#hold?.abort();
  }

  /** Ends every claim: the session's writes are over (or the session is). */
  releaseAll(): void {
    if (this.#releases.length === 0) return;
    const releases = this.#releases;
    this.#releases = [];
    this.#claimed.clear();
    for (const release of releases) release();
  }

  #unclaimed(plan: WritePlan): WritePlan {
    return { mapVersion: plan.mapVersion, shards: plan.shards.filter((s) => !this.#claimed.has(s)) };
  }

  #claim(shards: readonly number[], release: Release): void {
    for (const shard of shards) this.#claimed.add(shard);
    this.#releases.push(release);
  }
}
