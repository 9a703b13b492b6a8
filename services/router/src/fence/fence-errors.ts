/**
 * A write waited for a write fence longer than the router allows. The statement never ran, so
 * retrying it is safe: HTTP answers 503, the wire endpoint SQLSTATE 40001 (see client-session).
 */
export class FenceHoldError extends Error {
  override readonly name = "FenceHoldError";
  readonly code = "WRITE_FENCED";
  readonly database: string;
  readonly shards: readonly number[];
  readonly heldMs: number;

  constructor(database: string, shards: readonly number[], heldMs: number, reason: string) {
    const where =
      shards.length === 0
        ? `database ${database}`
        : `shard${shards.length === 1 ? "" : "s"} ${shards.join(", ")} of database ${database}`;
    super(
      `write to ${where} held ${Math.round(heldMs)} ms (${reason}) and given up; it did not run, retry it`,
    );
    this.database = database;
    this.shards = shards;
    this.heldMs = heldMs;
  }
}

/** Not every live router replica acknowledged a fence in time; the fence was lifted again. */
export class FenceTimeoutError extends Error {
  override readonly name = "FenceTimeoutError";
  readonly code = "FENCE_TIMEOUT";
  readonly database: string;
  readonly shard: number;
  readonly id: string;
  /** The replicas (ids) that did not acknowledge. */
  readonly replicas: readonly string[];

  constructor(database: string, shard: number, id: string, replicas: readonly string[], timeoutMs: number) {
    super(
      `fence ${id} on shard ${shard} of database ${database}: not acknowledged within ${timeoutMs} ms by ${replicas.join(", ")}; lifted`,
    );
    this.database = database;
    this.shard = shard;
    this.id = id;
    this.replicas = replicas;
  }
}

/** A held write given up because its client cancelled it or went away. */
export class FenceHoldAbortedError extends Error {
  override readonly name = "FenceHoldAbortedError";
  readonly code = "HOLD_ABORTED";
}
