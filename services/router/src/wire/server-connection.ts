import {
  type BackendConnection,
  BackendMessageType,
  joinWrite,
  MESSAGE_BODY_OFFSET,
  type NoticeFields,
  noticeFields,
  readyForQueryStatus,
  TransactionStatus,
  type WireMessage,
} from "@dbplane/pgwire";
import { serialize } from "pg-protocol";
import { flushSoon } from "./flush-soon.ts";

/** A statement the router ran for itself failed on the server. */
export class ServerStatementError extends Error {
  readonly fields: NoticeFields;
  constructor(fields: NoticeFields) {
    super(fields.message);
    this.name = "ServerStatementError";
    this.fields = fields;
  }
}

/** Told when the ReadyForQuery a request earns arrives, or why it never will (the connection closed). */
export interface ReadyWaiter {
  resolve(status: TransactionStatus): void;
  reject(error: Error): void;
}

/** Where a connection goes back to. */
export interface ConnectionHome {
  release(connection: ServerConnection): void;
}

/**
 * A pooled connection to one shard server. Keeps what transaction pooling must know: the
 * server's transaction status, how many ReadyForQuery answers are still owed (a connection with
 * work in flight is never reused), which of our prepared statement names it holds, and which
 * session settings it carries.
 */
export class ServerConnection {
  readonly backend: BackendConnection;
  readonly shard: number;
  readonly home: ConnectionHome;
  /** A replica's connection: reads only. */
  readonly replica: boolean;
  /** Server-side names of statements prepared on this connection. */
  readonly prepared = new Set<string>();
  /**
   * The SET statements in force here ("" = none since connect; undefined = unknown, a client ran
   * a SET directly): the next client whose own differ resets them (RESET ALL) and applies its own.
   */
  settings: string | undefined = "";
  status: TransactionStatus = TransactionStatus.Idle;
  #receiver: (message: WireMessage) => void = () => {};
  readonly #waiters: ReadyWaiter[] = [];
  /** Messages waiting for one write. */
  readonly #out: Uint8Array[] = [];
  /** Parse messages sent and not yet answered: the name to record, whether the client asked for it. */
  readonly #parses: { name: string | undefined; swallow: boolean }[] = [];
  /** The FATAL (or PANIC) the server sent before it ended this connection. */
  #fatal: NoticeFields | undefined;
  /** Why the connection closed ("" when nothing said why); undefined while it is open. */
  #closeReason: string | undefined;

  constructor(backend: BackendConnection, shard: number, home: ConnectionHome, replica = false) {
    this.backend = backend;
    this.shard = shard;
    this.home = home;
    this.replica = replica;
    backend.receiver = (message) => {
      if (message.type === BackendMessageType.ErrorResponse && this.#isFatal(message)) {
        // The server is ending this connection (its postmaster died, an admin terminated it, an
        // idle-in-transaction timeout). Not relayed: the client's session is the router's and
        // lives on; the request in flight (or the transaction's next one) fails with 08006,
        // naming this reason, once the connection closes.
        return;
      }
      if (message.type === BackendMessageType.ParseComplete) {
        const parse = this.#parses.shift();
        if (parse?.name !== undefined) this.prepared.add(parse.name);
        if (parse?.swallow) return;
      } else if (message.type === BackendMessageType.ReadyForQuery) {
        // Parses after an error were skipped by the server: never prepared.
        this.#forgetParses();
        this.status = readyForQueryStatus(message);
        this.#receiver(message);
        this.#nextWaiter()?.resolve(this.status);
        return;
      }
      this.#receiver(message);
    };
    backend.onClose((error) => {
      this.#closeReason ??= this.#fatal?.message ?? error?.message ?? "";
      const failure = this.#closedError();
      for (const waiter of this.#waiters.splice(0)) waiter.reject(failure);
    });
  }

  #closedError(): Error {
    const reason = this.#closeReason ?? this.#fatal?.message;
    return new Error(`shard ${this.shard} server connection closed${reason ? `: ${reason}` : ""}`);
  }

  #isFatal(message: WireMessage): boolean {
    const fields = noticeFields(message);
    if (fields.severity !== "FATAL" && fields.severity !== "PANIC") return false;
    this.#fatal = fields;
    return true;
  }

  /** Who gets the server's messages (ReadyForQuery included) from now on, one by one. */
  set receiver(receiver: (message: WireMessage) => void) {
    this.#receiver = receiver;
    this.backend.chunkReceiver = undefined;
  }

  /**
   * `receiver`, and `relayChunk` for the chunks a relay may pass on whole (no error, no
   * ParseComplete or ParameterStatus to keep track of): it gets the chunk and where its final
   * ReadyForQuery starts (`chunk.length`: none), before that ReadyForQuery's waiter is told.
   * Ends at the next `receiver` (the pool sets one when the connection comes back).
   */
  relayTo(
    receiver: (message: WireMessage) => void,
    relayChunk: (chunk: Buffer, readyAt: number) => void,
  ): void {
    this.#receiver = receiver;
    this.#relayChunk = relayChunk;
    this.backend.chunkReceiver = this.#onChunk;
  }

  #relayChunk: (chunk: Buffer, readyAt: number) => void = () => {};

  readonly #onChunk = (chunk: Buffer, readyAt: number): void => {
    if (readyAt === chunk.length) {
      this.#relayChunk(chunk, readyAt);
      return;
    }
    this.#forgetParses();
    // scanReply checked the status byte.
    this.status = String.fromCharCode(chunk[readyAt + MESSAGE_BODY_OFFSET]!) as TransactionStatus;
    this.#relayChunk(chunk, readyAt);
    this.#nextWaiter()?.resolve(this.status);
  };

  /** Setting an array's length is a call into the runtime: skipped when it is empty already. */
  #forgetParses(): void {
    if (this.#parses.length !== 0) this.#parses.length = 0;
  }

  /** The waiter owed the ReadyForQuery just read (one, almost always: popped, not shifted). */
  #nextWaiter(): ReadyWaiter | undefined {
    const waiters = this.#waiters;
    return waiters.length === 1 ? waiters.pop() : waiters.shift();
  }

  /** ReadyForQuery answers still owed: 0 means nothing is in flight. */
  get owed(): number {
    return this.#waiters.length;
  }

  get closed(): boolean {
    return this.backend.closed;
  }

  /** Sends messages that end with a Query or Sync: resolves at the ReadyForQuery they earn. */
  request(bytes: Uint8Array): Promise<TransactionStatus> {
    const ready = this.expectReady();
    this.#out.push(bytes);
    this.#flushOut();
    return ready;
  }

  /**
   * `request` without a promise: `waiter` (which the caller may reuse from request to request)
   * is told of the ReadyForQuery, or of the connection closing first.
   */
  requestWith(bytes: Uint8Array, waiter: ReadyWaiter): void {
    if (this.backend.closed) {
      waiter.reject(this.#closedError());
      return;
    }
    this.#waiters.push(waiter);
    this.#out.push(bytes);
    this.#flushOut();
  }

  /** Registers one more ReadyForQuery owed (for messages already or about to be sent). */
  expectReady(): Promise<TransactionStatus> {
    return new Promise((resolve, reject) => {
      if (this.backend.closed) reject(this.#closedError());
      else this.#waiters.push({ resolve, reject });
    });
  }

  /**
   * Sends a Parse. `name` (a server-side statement name) is recorded as prepared once the server
   * confirms it; `swallow` keeps its ParseComplete from the client, who did not send this Parse
   * (a replay on a connection that had not prepared the statement).
   */
  sendParse(bytes: Uint8Array, name: string | undefined, swallow: boolean): void {
    this.#parses.push({ name, swallow });
    this.send(bytes);
  }

  /** Whether a Parse of `name` is on its way (sent in this batch, not yet confirmed). */
  parsing(name: string): boolean {
    return this.#parses.some((p) => p.name === name);
  }

  /** Sends messages without expecting ReadyForQuery (Parse, Bind, Execute before a Sync). */
  send(bytes: Uint8Array): void {
    this.#out.push(bytes);
    // One write (one TCP segment) for the messages of a batch: Parse/Bind/Execute go out together
    // with the Sync that follows, or at the latest once the client's chunk has been handled.
    if (this.#out.length === 1) flushSoon(this.#flushOut);
  }

  readonly #flushOut = (): void => {
    const out = this.#out;
    if (out.length === 0) return;
    // One piece (a batch's usual): popped, the array kept for the next batch.
    const bytes = out.length === 1 ? out.pop()! : joinWrite(out);
    if (out.length !== 0) out.length = 0;
    if (!this.backend.closed) this.backend.write(bytes);
  };

  /** The first column of the first row `sql` returns (router's own catalog lookups). */
  async value(sql: string): Promise<string | null | undefined> {
    let value: string | null | undefined;
    let error: NoticeFields | undefined;
    this.receiver = (message) => {
      if (message.type === BackendMessageType.DataRow && value === undefined) {
        const length = message.bytes.readInt32BE(7);
        value = length < 0 ? null : message.bytes.toString("utf8", 11, 11 + length);
      } else if (message.type === BackendMessageType.ErrorResponse) error ??= noticeFields(message);
    };
    await this.request(serialize.query(sql));
    if (error) throw new ServerStatementError(error);
    return value;
  }

  /**
   * Runs `sql` for the router's own purposes (replaying SETs, resets): nothing reaches a client.
   * Resolves with the server's error, if any.
   */
  async run(sql: string): Promise<NoticeFields | undefined> {
    let error: NoticeFields | undefined;
    this.receiver = (message) => {
      if (message.type === BackendMessageType.ErrorResponse) error ??= noticeFields(message);
    };
    await this.request(serialize.query(sql));
    return error;
  }
}
