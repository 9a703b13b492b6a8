/**
 * Message type bytes of the PostgreSQL frontend/backend protocol v3, as `as const` objects so a
 * switch over them reads like the protocol documentation.
 */

/** Type bytes of messages a client (frontend) sends once the startup packet is done. */
export const FrontendMessageType = {
  Bind: 0x42, // B
  Close: 0x43, // C
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  CopyFail: 0x66, // f
  Describe: 0x44, // D
  Execute: 0x45, // E
  Flush: 0x48, // H
  FunctionCall: 0x46, // F
  Parse: 0x50, // P
  /** PasswordMessage, SASLInitialResponse and SASLResponse share this byte. */
  Password: 0x70, // p
  Query: 0x51, // Q
  Sync: 0x53, // S
  Terminate: 0x58, // X
} as const;

/** Type bytes of messages the server (backend) sends. */
export const BackendMessageType = {
  Authentication: 0x52, // R
  BackendKeyData: 0x4b, // K
  BindComplete: 0x32, // 2
  CloseComplete: 0x33, // 3
  CommandComplete: 0x43, // C
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  CopyInResponse: 0x47, // G
  CopyOutResponse: 0x48, // H
  DataRow: 0x44, // D
  EmptyQueryResponse: 0x49, // I
  ErrorResponse: 0x45, // E
  NegotiateProtocolVersion: 0x76, // v
  NoData: 0x6e, // n
  NoticeResponse: 0x4e, // N
  NotificationResponse: 0x41, // A
  ParameterDescription: 0x74, // t
  ParameterStatus: 0x53, // S
  ParseComplete: 0x31, // 1
  PortalSuspended: 0x73, // s
  ReadyForQuery: 0x5a, // Z
  RowDescription: 0x54, // T
} as const;

/**
 * The codes in the protocol-version field of an untyped startup packet. The three requests use
 * major version 1234, which no real protocol version has.
 */
export const StartupCode = {
  CancelRequest: 80877102,
  SSLRequest: 80877103,
  GSSENCRequest: 80877104,
  /** Protocol 3.0: major 3 in the high 16 bits, minor 0 in the low. */
  ProtocolVersion3: 196608,
} as const;

/** The transaction status byte of ReadyForQuery. */
export const TransactionStatus = {
  Idle: "I",
  InTransaction: "T",
  Failed: "E",
} as const;

export type TransactionStatus = (typeof TransactionStatus)[keyof typeof TransactionStatus];

/** Authentication request codes (the int32 after the `R` header). */
export const AuthenticationCode = {
  Ok: 0,
  CleartextPassword: 3,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const;
