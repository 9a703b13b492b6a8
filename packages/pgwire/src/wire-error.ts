/**
 * The fields of an ErrorResponse or NoticeResponse, named as in PostgreSQL's documentation
 * ("Error and Notice Message Fields"); only severity, code and message are always sent.
 */
export interface NoticeFields {
  /** ERROR, FATAL or PANIC for errors; WARNING, NOTICE, DEBUG, INFO or LOG for notices. */
  readonly severity: string;
  /** The SQLSTATE, five characters (e.g. `28P01`). */
  readonly code: string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
  /** 1-based character position in the query string, as text. */
  readonly position?: string;
  readonly internalPosition?: string;
  readonly internalQuery?: string;
  readonly where?: string;
  readonly schema?: string;
  readonly table?: string;
  readonly column?: string;
  readonly dataType?: string;
  readonly constraint?: string;
  readonly file?: string;
  readonly line?: string;
  readonly routine?: string;
}

/**
 * An error to answer a client with: its fields become an ErrorResponse. FATAL ends the
 * connection, ERROR ends the statement (and, within a transaction block, fails the transaction).
 */
export class WireError extends Error {
  readonly fields: NoticeFields;

  constructor(fields: NoticeFields, options?: { cause?: unknown }) {
    super(fields.message, options);
    this.name = "WireError";
    this.fields = fields;
  }

  /** The SQLSTATE the client receives. */
  get code(): string {
    return this.fields.code;
  }
}

/** SQLSTATEs this package answers with, named as in PostgreSQL's errcodes.txt. */
export const SqlState = {
  ProtocolViolation: "08P01",
  FeatureNotSupported: "0A000",
  InvalidAuthorizationSpecification: "28000",
  InvalidPassword: "28P01",
  InvalidCatalogName: "3D000",
  TooManyConnections: "53300",
  AdminShutdown: "57P01",
  QueryCanceled: "57014",
} as const;

/** A FATAL protocol violation (08P01): the client sent something the protocol does not allow. */
export function protocolViolation(message: string): WireError {
  return new WireError({ severity: "FATAL", code: SqlState.ProtocolViolation, message });
}
