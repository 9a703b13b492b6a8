import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { serialize } from "pg-protocol";
import {
  BackendMessageType,
  MessageFramer,
  type NoticeFields,
  readyForQueryStatus,
  type SessionHandler,
  type TransactionStatus,
  WireError,
  type WireMessage,
  type WireSession,
} from "../src/index.ts";

/** What a test can see of one relayed session. */
export interface PassthroughRecord {
  readonly session: WireSession;
  /** The transaction status of every ReadyForQuery relayed, in order. */
  readonly statuses: TransactionStatus[];
}

// Startup parameters a client may set that the upstream server should apply too.
const forwardedParameters = ["application_name", "options", "client_encoding", "DateStyle", "TimeZone"];

/**
 * A session handler relaying the client's messages to one upstream PostgreSQL connection and the
 * server's back, byte for byte: the smallest proof the wire layer carries real clients. The
 * upstream connection is opened with its own startup (trust auth), and its ParameterStatus values
 * become the client's greeting.
 */
export async function openPassthrough(
  session: WireSession,
  upstream: { host: string; port: number; user: string; database: string },
  record: (entry: PassthroughRecord) => void,
): Promise<SessionHandler> {
  const socket = connect(upstream.port, upstream.host);
  socket.setNoDelay(true);
  await once(socket, "connect");
  const startup: Record<string, string> = { user: upstream.user, database: upstream.database };
  for (const name of forwardedParameters) {
    const value = session.parameters.all[name];
    if (value !== undefined) startup[name] = value;
  }
  socket.write(serialize.startup(startup));
  const { parameters, framer } = await readUpstreamGreeting(socket);
  const entry: PassthroughRecord = { session, statuses: [] };
  record(entry);
  relayUpstream(socket, framer, session, entry);
  let corked = false;
  return {
    parameters,
    message(message) {
      if (!corked) {
        socket.cork();
        corked = true;
      }
      if (!socket.write(message.bytes)) {
        session.pause();
        socket.once("drain", () => session.resume());
      }
    },
    flush() {
      if (corked) socket.uncork();
      corked = false;
    },
    close() {
      socket.end(serialize.end());
    },
  };
}

/** Reads the upstream's startup answers up to its first ReadyForQuery. */
async function readUpstreamGreeting(
  socket: Socket,
): Promise<{ parameters: Record<string, string>; framer: MessageFramer }> {
  const framer = new MessageFramer();
  const parameters: Record<string, string> = {};
  let ready = false;
  while (!ready) {
    const [chunk] = (await once(socket, "data")) as [Buffer];
    framer.push(chunk, (message) => {
      if (ready) throw new Error("upstream sent messages after its first ReadyForQuery unasked");
      if (message.type === BackendMessageType.ParameterStatus) {
        const [name, value] = message.bytes.toString("utf8", 5, message.bytes.length - 1).split("\0");
        parameters[name!] = value!;
      } else if (message.type === BackendMessageType.ErrorResponse) {
        throw new WireError(errorFields(message));
      } else if (message.type === BackendMessageType.ReadyForQuery) {
        ready = true;
      }
    });
  }
  return { parameters, framer };
}

function relayUpstream(
  socket: Socket,
  framer: MessageFramer,
  session: WireSession,
  entry: PassthroughRecord,
): void {
  socket.on("data", (chunk: Buffer) => {
    // Whole chunks go through unchanged; the framer only watches for ReadyForQuery.
    framer.push(chunk, (message: WireMessage) => {
      if (message.type === BackendMessageType.ReadyForQuery)
        entry.statuses.push(readyForQueryStatus(message));
    });
    if (!session.write(chunk)) {
      socket.pause();
      session.onceDrained(() => socket.resume());
    }
  });
  socket.on("error", () => session.end());
  socket.on("close", () => session.end());
}

function errorFields(message: WireMessage): NoticeFields {
  const fields = new Map<string, string>();
  for (const field of message.bytes.toString("utf8", 5, message.bytes.length - 1).split("\0")) {
    if (field !== "") fields.set(field[0]!, field.slice(1));
  }
  return {
    severity: "FATAL",
    code: fields.get("C") ?? "XX000",
    message: fields.get("M") ?? "upstream error",
  };
}
