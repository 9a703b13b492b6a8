import type { NatsAuth } from "@dbplane/bus";
import type { LogLevel } from "@dbplane/service-kit";

/** What the firing thread is started with (`workerData`). */
export interface FiringThreadData {
  readonly servers: string | readonly string[];
  /** The service's name: its NATS connection name and inbox prefix. */
  readonly name: string;
  readonly auth: NatsAuth;
  readonly logLevel: LogLevel;
  /** Publishes awaiting their ack at once; the rest wait their turn. */
  readonly publishConcurrency: number;
}

/** One NATS occurrence handed to the thread: its message, when it is due and until when it may start. */
export interface ThreadArm {
  readonly id: number;
  /** Due, on the database's clock (ms since the epoch). */
  readonly dueAt: number;
  /** No publish starts after this, on the database's clock (maxLatenessMs, the lease). */
  readonly deadline: number;
  /** The wire subject. */
  readonly subject: string;
  readonly payload: Uint8Array;
  /** The headers as NATS encodes them (`MsgHdrs.encode()`), `Nats-Msg-Id` among them. */
  readonly headers: Uint8Array;
}

export type ToThread =
  /** `offset`: the database's clock minus this process's, as the main thread estimates it now. */
  | { readonly t: "arm"; readonly offset: number; readonly items: readonly ThreadArm[] }
  | { readonly t: "cancel"; readonly ids: readonly number[] }
  | { readonly t: "offset"; readonly offset: number }
  | { readonly t: "stop" };

/**
 * What became of an occurrence handed to the thread. `acked`: the stream stored it (`at` is when
 * the ack arrived); `failed`: the one attempt failed and may be retried (timeout, no responders,
 * a reconnect); `refused`: it cannot succeed (permissions, the stream refused it, the connection
 * closed); `late`: its deadline passed before it could start, no attempt made; `cancelled`: the
 * main thread withdrew it before it started. Times are this process's (`Date.now()`).
 */
export interface ThreadResult {
  readonly id: number;
  readonly kind: "acked" | "failed" | "refused" | "late" | "cancelled";
  /** When its publish was written (or, for `late`, found too late). */
  readonly startedAt?: number;
  readonly at: number;
  readonly seq?: number;
  readonly duplicate?: boolean;
  readonly error?: string;
}

/** Where the thread's occurrences are, sent with every batch of results. */
export interface ThreadStages {
  readonly timerBuckets: number;
  readonly waiting: number;
  readonly inFlight: number;
}

export type FromThread =
  | { readonly t: "ready" }
  | { readonly t: "failed"; readonly error: string }
  | { readonly t: "results"; readonly items: readonly ThreadResult[]; readonly stages: ThreadStages }
  /** A line for the main thread's logger (the thread's NATS connection events). */
  | {
      readonly t: "log";
      readonly level: "trace" | "debug" | "info" | "warn" | "error" | "fatal";
      readonly fields: object;
      readonly msg: string;
    }
  /** After `stop`: every publish started has its result sent; these never started. */
  | { readonly t: "stopped"; readonly unstarted: readonly number[] };
