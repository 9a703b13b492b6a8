import { MESSAGE_BODY_OFFSET, type WireMessage } from "./message-framer.ts";
import { BackendMessageType, TransactionStatus } from "./protocol-codes.ts";
import { protocolViolation } from "./wire-error.ts";

const statuses: ReadonlySet<string> = new Set(Object.values(TransactionStatus));

/**
 * The transaction status of a ReadyForQuery a relay passes on from a server: idle, in a
 * transaction block, or in a failed one — what decides whether a pooled server connection can go
 * back to the pool.
 */
export function readyForQueryStatus(message: WireMessage): TransactionStatus {
  const status = String.fromCharCode(message.bytes[MESSAGE_BODY_OFFSET] ?? 0);
  if (message.type !== BackendMessageType.ReadyForQuery || !statuses.has(status)) {
    throw protocolViolation("invalid ReadyForQuery message");
  }
  return status as TransactionStatus;
}
