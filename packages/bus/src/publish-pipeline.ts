import { JetStreamApiError, JetStreamError, type PubAck } from "@nats-io/jetstream";
import {
  createInbox,
  errors,
  type Msg,
  type MsgHdrs,
  type MsgHdrsImpl,
  type NatsConnection,
  type Subscription,
} from "@nats-io/transport-node";

/** How often the acks still awaited are checked against their deadlines (their granularity). */
const SWEEP_MS = 25;
/** Base-36 digits of a reply token in an encoded frame (tokens wrap after 36^8 publishes). */
const TOKEN_DIGITS = 8;
const TOKEN_SPACE = 36 ** TOKEN_DIGITS;
const BASE36 = new TextEncoder().encode("0123456789abcdefghijklmnopqrstuvwxyz");
const CRLF_BYTES = [13, 10] as const;
const encoder = new TextEncoder();
/** What nats.js refuses as a subject (it checks the same at every publish). */
const INVALID_SUBJECT = /^$|[ \n\r\t]/;

/**
 * The part of nats.js's protocol handler a pre-encoded frame is sent through: `sendCommand`
 * appends bytes to the connection's outbound buffer and flushes it as `publish` does (in a
 * microtask, or at once past the buffer's limit). Not in nats.js's typed API; checked at start.
 */
interface ProtocolHandler {
  sendCommand(cmd: Uint8Array): void;
  flushPending(): void;
  noMorePublishing: boolean;
  outMsgs: number;
  outBytes: number;
  info?: { max_payload: number };
}

/**
 * A message encoded once as the protocol's HPUB frame (subject, reply, headers, payload), with
 * room for the reply token that each attempt writes in: sending it is one buffer append.
 * Built by `PublishPipeline.encode`, sent by `publishEncoded` (any number of times).
 */
export interface EncodedPublish {
  readonly subject: string;
  readonly payload: Uint8Array;
  readonly headers: MsgHdrs;
  /** @internal the frame, the inbox its reply names, where its token goes; absent: sent by `nc.publish`. */
  frame?: {
    bytes: Uint8Array;
    readonly inbox: string;
    readonly tokenAt: number;
    /** Headers and payload, as the server's `max_payload` counts them. */
    readonly size: number;
    sent: boolean;
  };
}

interface Waiter {
  readonly subject: string;
  readonly resolve: (ack: PubAck) => void;
  readonly reject: (err: Error) => void;
}

/** The connection was re-established while the ack was awaited: it may never come, send again. */
export class ReconnectedError extends Error {
  override readonly name = "ReconnectedError";
  constructor() {
    super("connection re-established while waiting for the ack");
  }
}

const decoder = new TextDecoder();

function protocolOf(nc: NatsConnection): ProtocolHandler | undefined {
  const protocol = (nc as unknown as { protocol?: Partial<ProtocolHandler> }).protocol;
  return typeof protocol?.sendCommand === "function" &&
    typeof protocol.flushPending === "function" &&
    typeof protocol.outMsgs === "number"
    ? (protocol as ProtocolHandler)
    : undefined;
}

/**
 * JetStream publishes whose acks all come back on one subscription (`<inbox>.<token>`), each
 * awaited in a map and timed out by one sweep, instead of `js.publish`'s request per message
 * (a request object, a timer and a promise chain each). Same wire exchange — the stream stores the
 * message and answers the reply subject with its PubAck — and the same errors: `TimeoutError`,
 * `NoRespondersError` (no stream takes the subject, or JetStream is restarting),
 * `JetStreamApiError` (the stream refused it), `PermissionViolationError` (this user may not
 * publish there), `ReconnectedError` (the connection came back while the ack was awaited: it
 * may never arrive; publish again with the same `Nats-Msg-Id`), `ClosedConnectionError`.
 *
 * Measured with 2 processes publishing 50,000 messages with a `Nats-Msg-Id` to a file stream
 * here: 30–31k msg/s acked with `js.publish`, 79–86k msg/s this way, and half the nats-server CPU.
 */
export class PublishPipeline {
  readonly #nc: NatsConnection;
  readonly #inboxPrefix: string | undefined;
  readonly #protocol: ProtocolHandler | undefined;
  readonly #waiting = new Map<number, Waiter>();
  /**
   * The tokens by the sweep slot their deadline falls in (`ceil(deadline / SWEEP_MS)`): a sweep
   * looks only at the slots that have come due, not at every ack awaited (25,000 in a burst).
   */
  readonly #slots = new Map<number, number[]>();
  /** The first slot not swept yet. */
  #nextSlot = 0;
  #inbox = "";
  #sub: Subscription | undefined;
  #next = 0;
  #sweep: ReturnType<typeof setInterval> | undefined;

  /**
   * `onReconnect` registers a listener called at every reconnect; `inboxPrefix` must be the
   * connection's (its NATS user may subscribe to its own inboxes only).
   */
  constructor(
    nc: NatsConnection,
    options: { inboxPrefix?: string; onReconnect: (listener: () => void) => unknown },
  ) {
    this.#nc = nc;
    this.#protocol = protocolOf(nc);
    this.#inboxPrefix = options.inboxPrefix;
    options.onReconnect(() => this.#failAll(() => new ReconnectedError()));
    void nc.closed().then(() => this.#failAll(() => new errors.ClosedConnectionError()));
    void (async () => {
      for await (const s of nc.status()) {
        // The server refuses a publish with an -ERR naming the subject, never on the reply.
        if (
          s.type === "error" &&
          s.error instanceof errors.PermissionViolationError &&
          s.error.operation === "publish"
        ) {
          const denied = s.error;
          this.#failWhere((w) => w.subject === denied.subject, denied);
        }
      }
    })();
  }

  /** Acks awaited. */
  get size(): number {
    return this.#waiting.size;
  }

  /**
   * Publishes `payload` to `subject` with `headers` (which carry `Nats-Msg-Id` when the message
   * is to be deduplicated) and resolves with the stream's ack, or rejects after `timeoutMs`.
   */
  publish(subject: string, payload: Uint8Array, headers: MsgHdrs, timeoutMs: number): Promise<PubAck> {
    return this.#send(subject, timeoutMs, (token) =>
      this.#nc.publish(subject, payload, { headers, reply: `${this.#inbox}.${token.toString(36)}` }),
    );
  }

  /**
   * Encodes a message for `publishEncoded`, once: a message published later (the scheduler
   * builds a target message when it arms the occurrence) costs one buffer append to send,
   * not nats.js's per-publish checks, protocol line and encodings (4–5 µs a message here).
   */
  encode(subject: string, payload: Uint8Array, headers: MsgHdrs): EncodedPublish {
    const message: EncodedPublish = { subject, payload, headers };
    // Whatever nats.js would refuse is left to it: `publishEncoded` then sends it the plain way.
    if (!this.#protocol || INVALID_SUBJECT.test(subject) || this.#nc.isClosed()) return message;
    this.#subscribe();
    // nats.js encodes the headers it is given the same way (`MsgHdrs` is always its `MsgHdrsImpl`).
    const encodedHeaders = (headers as MsgHdrsImpl).encode();
    const length = encodedHeaders.length + payload.length;
    const head = encoder.encode(`HPUB ${subject} ${this.#inbox}.`);
    const tail = encoder.encode(` ${encodedHeaders.length} ${length}\r\n`);
    const bytes = new Uint8Array(head.length + TOKEN_DIGITS + tail.length + length + 2);
    bytes.set(head, 0);
    let at = head.length + TOKEN_DIGITS;
    bytes.set(tail, at);
    at += tail.length;
    bytes.set(encodedHeaders, at);
    bytes.set(payload, at + encodedHeaders.length);
    bytes.set(CRLF_BYTES, bytes.length - 2);
    message.frame = { bytes, inbox: this.#inbox, tokenAt: head.length, size: length, sent: false };
    return message;
  }

  /** `publish` for a message from `encode`: the same exchange, acks and errors. */
  publishEncoded(message: EncodedPublish, timeoutMs: number): Promise<PubAck> {
    const frame = message.frame;
    const protocol = this.#protocol;
    // First: a subscription closed since the frame was encoded is replaced under a new inbox,
    // and a frame naming the old one would have its ack go nowhere.
    if (!this.#nc.isClosed() && !this.#nc.isDraining()) this.#subscribe();
    if (
      !frame ||
      !protocol ||
      frame.inbox !== this.#inbox ||
      protocol.noMorePublishing ||
      (protocol.info !== undefined && frame.size > protocol.info.max_payload)
    )
      return this.publish(message.subject, message.payload, message.headers, timeoutMs);
    return this.#send(message.subject, timeoutMs, (token) => {
      // An earlier send's bytes may still sit in nats.js's outbound buffer (it keeps what is
      // sent while disconnected): a repeat writes its token into a copy.
      if (frame.sent) frame.bytes = frame.bytes.slice();
      frame.sent = true;
      const { bytes, tokenAt } = frame;
      for (let i = TOKEN_DIGITS - 1, n = token; i >= 0; i--, n = Math.floor(n / 36))
        bytes[tokenAt + i] = BASE36[n % 36]!;
      protocol.outMsgs++;
      protocol.outBytes += frame.size;
      protocol.sendCommand(bytes);
    });
  }

  /**
   * Writes what was published to the socket now rather than at the next microtask checkpoint
   * (nats.js's flush): for a caller in the middle of a long synchronous task that sent something
   * due, which would otherwise wait for the task's end.
   */
  flush(): void {
    this.#protocol?.flushPending();
  }

  /** Awaits the ack of one send, which `write` makes with the reply token it is given. */
  #send(subject: string, timeoutMs: number, write: (token: number) => void): Promise<PubAck> {
    if (this.#nc.isClosed()) return Promise.reject(new errors.ClosedConnectionError());
    if (this.#nc.isDraining()) return Promise.reject(new errors.DrainingConnectionError());
    this.#subscribe();
    const token = this.#next;
    this.#next = (this.#next + 1) % TOKEN_SPACE;
    const { promise, resolve, reject } = Promise.withResolvers<PubAck>();
    const deadline = Date.now() + timeoutMs;
    this.#waiting.set(token, { subject, resolve, reject });
    const slot = Math.ceil(deadline / SWEEP_MS);
    const tokens = this.#slots.get(slot);
    if (tokens) tokens.push(token);
    else this.#slots.set(slot, [token]);
    try {
      write(token);
    } catch (err) {
      this.#waiting.delete(token);
      reject(err as Error);
      return promise;
    }
    if (this.#sweep === undefined) {
      this.#nextSlot = Math.floor(Date.now() / SWEEP_MS);
      this.#sweep = setInterval(() => this.#expire(), SWEEP_MS).unref();
    }
    return promise;
  }

  #subscribe(): void {
    if (this.#sub && !this.#sub.isClosed()) return;
    this.#inbox = createInbox(this.#inboxPrefix);
    const prefixLength = this.#inbox.length + 1;
    const sub = this.#nc.subscribe(`${this.#inbox}.*`, {
      callback: (err, msg) => {
        if (err) {
          // The subscription itself was refused or closed: nothing awaited on it can arrive.
          this.#failAll(() => err);
          return;
        }
        this.#settle(Number.parseInt(msg.subject.slice(prefixLength), 36), msg);
      },
    });
    this.#sub = sub;
  }

  #settle(token: number, msg: Msg): void {
    const w = this.#waiting.get(token);
    if (!w) return; // timed out or failed meanwhile
    this.#waiting.delete(token);
    if (msg.data.length === 0 && msg.headers?.hasError) {
      w.reject(
        msg.headers.code === 503
          ? new errors.NoRespondersError(w.subject)
          : new errors.RequestError(msg.headers.status),
      );
      return;
    }
    let ack: PubAck & { error?: ConstructorParameters<typeof JetStreamApiError>[0] };
    try {
      ack = JSON.parse(decoder.decode(msg.data));
    } catch (err) {
      w.reject(new JetStreamError("invalid ack response", { cause: err }));
      return;
    }
    if (ack.error) w.reject(new JetStreamApiError(ack.error));
    else if (!ack.stream) w.reject(new JetStreamError("invalid ack response"));
    else
      w.resolve({ stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate ?? false, domain: ack.domain });
  }

  #expire(): void {
    const last = Math.floor(Date.now() / SWEEP_MS);
    for (; this.#nextSlot <= last; this.#nextSlot++) {
      const tokens = this.#slots.get(this.#nextSlot);
      if (!tokens) continue;
      this.#slots.delete(this.#nextSlot);
      // Every deadline in a slot up to `last` is at most `last * SWEEP_MS`, which is at most now.
      for (const token of tokens) {
        const w = this.#waiting.get(token);
        if (!w) continue; // settled
        this.#waiting.delete(token);
        w.reject(new errors.TimeoutError());
      }
    }
    this.#stopSweepIfIdle();
  }

  #failWhere(match: (w: Waiter) => boolean, err: Error): void {
    for (const [token, w] of this.#waiting) {
      if (!match(w)) continue;
      this.#waiting.delete(token);
      w.reject(err);
    }
    this.#stopSweepIfIdle();
  }

  #failAll(reason: () => Error): void {
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const w of waiting) w.reject(reason());
    this.#stopSweepIfIdle();
  }

  #stopSweepIfIdle(): void {
    if (this.#waiting.size > 0 || this.#sweep === undefined) return;
    clearInterval(this.#sweep);
    this.#sweep = undefined;
    this.#slots.clear();
  }
}

/**
 * Whether publishing again can help: timeouts, no responders (JetStream restarting) and a lost
 * connection (the client reconnects) can. A closed or draining connection cannot — nats.js never
 * reopens it — nor can the server refusing the message (permissions, size, a stream that does
 * not take the subject).
 */
export function isTransientPublishError(err: unknown): boolean {
  // nats.js reports a refused request as a RequestError whose cause says why (a permissions
  // violation): judge by the cause, or a forbidden publish is retried until the deadline.
  if (err instanceof errors.RequestError && err.cause !== undefined && err.cause !== err)
    return isTransientPublishError(err.cause);
  if (err instanceof errors.ClosedConnectionError || err instanceof errors.DrainingConnectionError)
    return false;
  if (err instanceof errors.InvalidArgumentError || err instanceof errors.PermissionViolationError)
    return false;
  if (err instanceof JetStreamApiError) return err.status === 503;
  return true;
}
