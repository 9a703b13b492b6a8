export type { BackendConnectOptions } from "./backend-connection.ts";
export { BackendConnection, noticeFields, TlsRefusedError } from "./backend-connection.ts";
export type { CopyFormat, FieldDescription } from "./backend-messages.ts";
export { backendMessage } from "./backend-messages.ts";
export type {
  BindMessage,
  ExecuteMessage,
  ParseMessage,
  QueryMessage,
  SaslInitialResponseMessage,
  TargetMessage,
} from "./frontend-messages.ts";
export {
  parseBind,
  parseClose,
  parseCopyData,
  parseCopyFail,
  parseDescribe,
  parseExecute,
  parseParse,
  parseQuery,
  parseSaslInitialResponse,
  parseSaslResponse,
} from "./frontend-messages.ts";
export type { BackendKey, RoleLookup } from "./handshake.ts";
export type { WireMessage } from "./message-framer.ts";
export { MAX_MESSAGE_LENGTH, MESSAGE_BODY_OFFSET, MessageFramer } from "./message-framer.ts";
export {
  AuthenticationCode,
  BackendMessageType,
  FrontendMessageType,
  StartupCode,
  TransactionStatus,
} from "./protocol-codes.ts";
export { readyForQueryStatus } from "./ready-for-query.ts";
export { scanReply } from "./reply-scan.ts";
export { ScramClient, ScramClientError } from "./scram-client.ts";
export { SCRAM_SHA_256, ScramExchange } from "./scram-exchange.ts";
export type { ScramVerifier } from "./scram-verifier.ts";
export { createScramVerifier, InvalidScramVerifierError, parseScramVerifier } from "./scram-verifier.ts";
export type { StartupPacket, StartupParameters } from "./startup-packet.ts";
export { parseStartupPacket } from "./startup-packet.ts";
export type { NoticeFields } from "./wire-error.ts";
export { protocolViolation, SqlState, WireError } from "./wire-error.ts";
export type { WireServer, WireServerOptions } from "./wire-server.ts";
export { createWireServer } from "./wire-server.ts";
export type { SessionHandler, WireSession } from "./wire-session.ts";
export { joinWrite } from "./write-batch.ts";
