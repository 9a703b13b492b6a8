import type { MessageDefinition } from "@dbplane/contracts";
import type { Logger } from "pino";
import { PublishError } from "./errors.ts";
import { encodeMessage } from "./message-codec.ts";
import type { BusMetrics } from "./metrics.ts";
import type { BusNames } from "./naming.ts";
import { isTransientPublishError, type PublishPipeline } from "./publish-pipeline.ts";
import { decorrelatedJitter, type RandomSource } from "./retry-pause.ts";

/** Options of one `bus.publish`. */
export interface PublishOptions {
  /** The CloudEvents `subject`: the aggregate the message is about (a database, a shard, a job). */
  readonly subject: string;
  /** Deterministic id derived from the fact, so a repeated publish is deduplicated; else random. */
  readonly id?: string;
  /** The HTTP operation (or first message) that caused this chain. */
  readonly correlationId?: string;
  /** The id of the message that directly caused this one. */
  readonly causationId?: string;
  readonly time?: Date;
  /** Overrides the source `dbplane/<name>`. */
  readonly source?: string;
  /** Overrides the bus's `publishTimeoutMs` for this publish. */
  readonly timeoutMs?: number;
}

/** The stream's acknowledgement. `duplicate` means the stream already held this id. */
export interface PublishAck {
  readonly stream: string;
  readonly seq: number;
  readonly duplicate: boolean;
  /** The CloudEvents id, which is also the `Nats-Msg-Id`. */
  readonly id: string;
}

export interface PublisherContext {
  /** One attempt: publishes and waits for the stream's ack. */
  readonly publish: PublishPipeline["publish"];
  readonly names: BusNames;
  readonly source: string;
  readonly publishTimeoutMs: number;
  readonly logger: Logger;
  readonly metrics: BusMetrics;
  /** Draws the retry pauses' jitter; Math.random unless a test injects one. */
  readonly random?: RandomSource;
  /** Waits between attempts; a timer unless a test injects one. */
  readonly sleep?: (ms: number) => Promise<void>;
}

// One attempt waits at most this long, so a request lost in a reconnect is re-sent promptly.
const ATTEMPT_TIMEOUT_MS = 5_000;
// Pauses between attempts: decorrelated jitter between these bounds, so the publishers that lost
// one NATS server together do not all come back at the same instant.
const RETRY_PAUSE = { baseMs: 100, capMs: 1_000 } as const;
const timer = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Publishes for one bus; see `Bus.publish`. */
export type Publish = (def: MessageDefinition, data: unknown, options: PublishOptions) => Promise<PublishAck>;

/**
 * The bus's `publish`: validates, encodes and publishes one message, retrying transient failures
 * (a timeout, no responders, the connection re-established while the ack was awaited) with the
 * same msg id until the deadline. What is the same for every message is set up here or on the
 * first failure, not per message: a publish's own cost should be its encoding and its request
 * (bench/bus/profile-publish.ts).
 */
export function createPublisher(ctx: PublisherContext): Publish {
  const sleep = ctx.sleep ?? timer;
  return async (def, data, options) => {
    const { id, headers, payload } = encodeMessage(def, data, options.source ?? ctx.source, options);
    const subject = ctx.names.subject(def.subject);
    const timeoutMs = options.timeoutMs ?? ctx.publishTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    let nextPause: (() => number) | undefined;
    for (let attempts = 1; ; attempts++) {
      try {
        // The headers carry Nats-Msg-Id already.
        const ack = await ctx.publish(
          subject,
          payload,
          headers,
          Math.max(1, Math.min(deadline - Date.now(), ATTEMPT_TIMEOUT_MS)),
        );
        ctx.metrics.published.inc({ type: def.type, outcome: ack.duplicate ? "duplicate" : "stored" });
        if (attempts > 1) ctx.logger.info({ subject, msgId: id, attempts }, "publish succeeded after retry");
        return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate, id };
      } catch (err) {
        const transient = isTransientPublishError(err);
        nextPause ??= decorrelatedJitter({ ...RETRY_PAUSE, random: ctx.random ?? Math.random });
        const pause = nextPause();
        if (!transient || Date.now() + pause >= deadline) {
          ctx.metrics.published.inc({ type: def.type, outcome: "failed" });
          const why = transient ? `not acknowledged within ${timeoutMs} ms` : "refused";
          throw new PublishError(
            `publish of ${def.type} (${id}) to ${subject} ${why}: ${describe(err)}`,
            { subject, msgId: id, attempts },
            { cause: err },
          );
        }
        if (attempts === 1) ctx.logger.warn({ err, subject, msgId: id }, "publish failed, retrying");
        await sleep(pause);
      }
    }
  };
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
