/** Why a range move refused or failed; the orchestrator maps each code to an outcome. */
export const RANGE_MOVE_ERROR_CODES = [
  "INVALID_SPEC",
  "WAL_LEVEL",
  "TABLE_MISSING",
  "KEY_MISSING",
  "NO_REPLICA_IDENTITY",
  "TARGET_NOT_EMPTY",
  "STILL_REPLICATING",
  "APPLY_TIMEOUT",
  "NOT_STARTED",
] as const;
export type RangeMoveErrorCode = (typeof RANGE_MOVE_ERROR_CODES)[number];

/** A refusal of a range move step; `message` names the table, column or spec field at fault. */
export class RangeMoveError extends Error {
  override readonly name = "RangeMoveError";
  readonly code: RangeMoveErrorCode;

  constructor(code: RangeMoveErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /**
   * True for a refusal of the tables or servers themselves, which no retry fixes; false for a
   * timeout or a step called out of order (STILL_REPLICATING, APPLY_TIMEOUT, NOT_STARTED).
   */
  get permanent(): boolean {
    return !RETRIED.has(this.code);
  }
}

const RETRIED = new Set<RangeMoveErrorCode>(["STILL_REPLICATING", "APPLY_TIMEOUT", "NOT_STARTED"]);
