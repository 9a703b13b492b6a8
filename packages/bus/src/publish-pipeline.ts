import { JetStreamApiError, JetStreamError, type PubAck } from "@nats-io/jetstream";
import {
  createInbox,
  errors,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from "@nats-io/transport-node";

/** How often the acks still awaited are checked against their deadlines (their granularity). */
const SWEEP_MS = 25;

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
  readonly #waiting = new Map<string, Waiter>();
  /**
   * The tokens by the sweep slot their deadline falls in (`ceil(deadline / SWEEP_MS)`): a sweep
   * looks only at the slots that have come due, not at every ack awaited (25,000 in a burst).
   */
  readonly #slots = new Map<number, string[]>();
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
    if (this.#nc.isClosed()) return Promise.reject(new errors.ClosedConnectionError());
    if (this.#nc.isDraining()) return Promise.reject(new errors.DrainingConnectionError());
    this.#subscribe();
    const token = (this.#next++).toString(36);
    const { promise, resolve, reject } = Promise.withResolvers<PubAck>();
    const deadline = Date.now() + timeoutMs;
    this.#waiting.set(token, { subject, resolve, reject });
    const slot = Math.ceil(deadline / SWEEP_MS);
    const tokens = this.#slots.get(slot);
    if (tokens) tokens.push(token);
    else this.#slots.set(slot, [token]);
    try {
      this.#nc.publish(subject, payload, { headers, reply: `${this.#inbox}.${token}` });
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
        this.#settle(msg.subject.slice(prefixLength), msg);
      },
    });
    this.#sub = sub;
  }

  #settle(token: string, msg: Msg): void {
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
