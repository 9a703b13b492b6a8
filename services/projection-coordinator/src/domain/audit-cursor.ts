import { DomainError, ERROR_KINDS } from "@dbplane/contracts";

/** Keyset position in the audit log: the last (time, seq) of the previous page. */
export interface AuditCursor {
  readonly time: string;
  readonly seq: number;
}

/** A cursor this service did not issue; the field is the `cursor` parameter. */
export class InvalidCursorError extends DomainError {
  override readonly name = "InvalidCursorError";
  constructor(message: string) {
    super(ERROR_KINDS.invalid, "INVALID_CURSOR", message, { field: "cursor" });
  }
}

export function encodeAuditCursor(cursor: AuditCursor): string {
  return Buffer.from(`${cursor.time}|${cursor.seq}`).toString("base64url");
}

/** Parses a cursor from a client; InvalidCursorError when it is not one this service issued. */
export function decodeAuditCursor(value: string): AuditCursor {
  const [time, seq, extra] = Buffer.from(value, "base64url").toString().split("|");
  const n = Number(seq);
  if (extra !== undefined || !time || Number.isNaN(Date.parse(time)) || !Number.isSafeInteger(n) || n < 0) {
    throw new InvalidCursorError("cursor is not one this API returned");
  }
  return { time, seq: n };
}
