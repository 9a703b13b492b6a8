import type { JsMsg } from "@nats-io/jetstream";

/**
 * Acks of one event-loop turn sent together. `msg.ack()` is a NATS publish; the client writes to
 * the socket once per microtask flush, and handlers finish in different microtasks, so acking each
 * at once cost one socket write per message — a third of the consume path's CPU. Held until the
 * turn's check phase (`setImmediate`), they leave in one write. `send()` writes what is held now
 * (the consumer calls it before its flush on stop). An ack that never leaves (the process dies
 * first) is a redelivery, as any lost ack is: delivery stays at-least-once.
 */
export class AckBatch {
  #held: JsMsg[] = [];
  #scheduled = false;
  readonly #onLost: (err: unknown, lost: number) => void;

  /** `onLost`: the connection refused the acks (closed): they will be redelivered. */
  constructor(onLost: (err: unknown, lost: number) => void) {
    this.#onLost = onLost;
  }

  add(msg: JsMsg): void {
    this.#held.push(msg);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.send());
    }
  }

  /** Acks held now. */
  get size(): number {
    return this.#held.length;
  }

  send(): void {
    this.#scheduled = false;
    const held = this.#held;
    this.#held = [];
    for (let i = 0; i < held.length; i++) {
      try {
        held[i]!.ack();
      } catch (err) {
        this.#onLost(err, held.length - i);
        return;
      }
    }
  }
}
