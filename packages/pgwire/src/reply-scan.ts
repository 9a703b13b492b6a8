import { MESSAGE_BODY_OFFSET } from "./message-framer.ts";
import { BackendMessageType as B } from "./protocol-codes.ts";

/**
 * Backend messages a relay passes on without reading them: results, completions, notices. Not
 * here: what a relay must act on (ErrorResponse, ParameterStatus, ParseComplete, COPY modes).
 */
const relayable = new Uint8Array(256);
for (const type of [
  B.BindComplete,
  B.CloseComplete,
  B.CommandComplete,
  B.DataRow,
  B.EmptyQueryResponse,
  B.NoData,
  B.NoticeResponse,
  B.NotificationResponse,
  B.ParameterDescription,
  B.PortalSuspended,
  B.RowDescription,
])
  relayable[type] = 1;

/** The status bytes a ReadyForQuery may carry: idle, in a transaction, in a failed one. */
const statuses = new Uint8Array(256);
for (const status of "ITE") statuses[status.charCodeAt(0)] = 1;

/**
 * Reads only the message boundaries of a server's chunk, so that a relay can pass the chunk on
 * whole. Answers where the ReadyForQuery that ends the chunk starts, when the chunk is whole
 * messages of relayable types followed by that one ReadyForQuery; `chunk.length` when it is
 * whole relayable messages without one; -1 for anything else (a message split across chunks,
 * an error, a bad length) — those take the message-by-message path.
 */
export function scanReply(chunk: Uint8Array): number {
  const length = chunk.length;
  let offset = 0;
  while (offset < length) {
    if (length - offset < MESSAGE_BODY_OFFSET) return -1;
    const type = chunk[offset]!;
    const size =
      ((chunk[offset + 1]! << 24) |
        (chunk[offset + 2]! << 16) |
        (chunk[offset + 3]! << 8) |
        chunk[offset + 4]!) >>>
      0;
    if (size < 4) return -1;
    const end = offset + 1 + size;
    if (end > length) return -1;
    if (type === B.ReadyForQuery) {
      return end === length && size === 5 && statuses[chunk[offset + MESSAGE_BODY_OFFSET]!] === 1
        ? offset
        : -1;
    }
    if (relayable[type] !== 1) return -1;
    offset = end;
  }
  return length;
}
