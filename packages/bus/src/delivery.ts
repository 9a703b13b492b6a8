import {
  type CloudEvent,
  DomainError,
  ERROR_KINDS,
  type ErrorKind,
  type MessageData,
  type MessageDefinition,
} from "@dbplane/contracts";
import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";
import type { AckBatch } from "./ack-batch.ts";
import { DLQ_REASONS, type DlqReason, publishDeadLetter } from "./dead-letter.ts";
import { PermanentError, RetryableError } from "./errors.ts";
import { decodeMessage } from "./message-codec.ts";
import {
  type BusMetrics,
  HANDLE_OUTCOMES,
  type HandledSeries,
  type HandleOutcome,
  typeLabel,
} from "./metrics.ts";
import type { BusNames } from "./naming.ts";
import { untrustedSource } from "./source-check.ts";

/** What a handler gets besides the event. */
export interface HandlerContext<D extends MessageDefinition = MessageDefinition> {
  /** The definition the message matched (by `ce-type`). */
  readonly def: D;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  /** The CloudEvents id (= `Nats-Msg-Id`). */
  readonly msgId: string;
  /** Extends the ack deadline now. The bus also does this every `ackWaitMs / 2` on its own. */
  working(): void;
  /** Aborted when the consumer gives up waiting for this handler (stop timeout, connection closed). */
  readonly signal: AbortSignal;
}

/** The CloudEvent of any one of the definitions in the union `D`. */
export type EventOf<D extends MessageDefinition> = D extends MessageDefinition
  ? CloudEvent<MessageData<D>>
  : never;

/**
 * Resolve to ack; throw RetryableError (or anything) to retry, PermanentError or a DomainError
 * refusal (any kind but unavailable) to dead-letter.
 */
export type MessageHandler<D extends MessageDefinition> = (
  event: EventOf<D>,
  ctx: HandlerContext<D>,
) => Promise<void> | void;

/** One message definition and the handler of its messages; made by `handle(def, handler)`. */
export interface DefinitionHandler<D extends MessageDefinition = MessageDefinition> {
  readonly def: D;
  // Method syntax on purpose: a handler of one definition then fits a list of handlers of many.
  handle(event: EventOf<D>, ctx: HandlerContext<D>): Promise<void> | void;
}

/**
 * Pairs a definition with its handler for `bus.consume({ handlers })`. The handler is typed by
 * the definition: `event.data` is that message's parsed data, `ctx.def` that definition.
 */
export function handle<D extends MessageDefinition>(
  def: D,
  handler: MessageHandler<D>,
): DefinitionHandler<D> {
  return { def, handle: handler };
}

export interface DeliveryContext {
  readonly js: JetStreamClient;
  readonly names: BusNames;
  /** The bus's service name: its dead letters go to `dbplane.dlq.<service>.…`. */
  readonly service: string;
  readonly durable: string;
  readonly isCommandStream: boolean;
  readonly handlersByType: ReadonlyMap<string, DefinitionHandler>;
  readonly defsByType: ReadonlyMap<string, MessageDefinition>;
  readonly subjects: ReadonlySet<string>;
  readonly maxDeliver: number;
  readonly backoffMs: readonly number[];
  readonly ackWaitMs: number;
  readonly confirmAcks: boolean;
  /** Unconfirmed acks, sent once per event-loop turn. */
  readonly acks: AckBatch;
  /** Messages whose handler runs now; a ticker calls `working()` on them every `ackWaitMs / 2`. */
  readonly inProgress: Set<JsMsg>;
  readonly logger: Logger;
  readonly metrics: BusMetrics;
  readonly series: (type: string, outcome: HandleOutcome) => HandledSeries;
}

/**
 * Domain errors worth another delivery: a dependency that is down now may be back. A refusal
 * (invalid, not found, conflict, unprocessable) fails the same way every time, so it is
 * dead-lettered at once.
 */
const RETRIED_KINDS: ReadonlySet<ErrorKind> = new Set([ERROR_KINDS.unavailable]);

/** Runs one delivery to its outcome: ack, nak with backoff, or term + DLQ. Never throws. */
export async function handleDelivery(
  ctx: DeliveryContext,
  msg: JsMsg,
  signal: AbortSignal,
): Promise<HandleOutcome> {
  const deliveryCount = msg.info.deliveryCount;
  const log = {
    subject: msg.subject,
    msgId: msg.headers?.get("ce-id") || undefined,
    deliveryCount,
    durable: ctx.durable,
  };
  if (!ctx.subjects.has(ctx.names.contractSubject(msg.subject))) {
    // A shared-prefix filter also matches messages of other definitions. An event is a fact
    // others consume through their own durables: skipping it loses nothing. A command on a
    // work queue would be deleted by the ack, so it is dead-lettered instead.
    if (!ctx.isCommandStream)
      return settle(ctx, wireType(ctx, msg), HANDLE_OUTCOMES.skipped, () => ctx.acks.add(msg));
    return deadLetter(
      ctx,
      msg,
      wireType(ctx, msg),
      DLQ_REASONS.unhandled,
      new Error(`no handler for subject ${msg.subject}`),
    );
  }
  let decoded: ReturnType<typeof decodeMessage>;
  try {
    decoded = decodeMessage(ctx.defsByType, msg.headers, msg.data);
  } catch (err) {
    return deadLetter(ctx, msg, wireType(ctx, msg), DLQ_REASONS.invalid, err);
  }
  const { def, event } = decoded;
  // NATS permissions keep a service to its own subjects; this keeps a message to its declared
  // senders even where one user may publish for several (the scheduler firing a job).
  const untrusted = untrustedSource(event.source, def.type, def.producers);
  if (untrusted) return deadLetter(ctx, msg, def.type, DLQ_REASONS.untrustedSource, untrusted);
  if (deliveryCount > ctx.maxDeliver) {
    // Earlier deliveries ended without a verdict (process crash, ack wait exceeded).
    const err = new Error(`delivered ${deliveryCount} times without being handled (max ${ctx.maxDeliver})`);
    return deadLetter(ctx, msg, def.type, DLQ_REASONS.maxDeliver, err);
  }

  const started = performance.now();
  const observe = (outcome: HandleOutcome) =>
    ctx.series(def.type, outcome).duration.observe((performance.now() - started) / 1000);
  // Keep the message ours while the handler runs, however long it takes (one shared ticker per
  // consumer instead of a timer per message: the hot path stays cheap).
  ctx.inProgress.add(msg);
  try {
    await ctx.handlersByType.get(def.type)!.handle(event, {
      def,
      deliveryCount,
      msgId: event.id,
      working: () => msg.working(),
      signal,
    });
  } catch (err) {
    ctx.inProgress.delete(msg);
    if (err instanceof PermanentError || (err instanceof DomainError && !RETRIED_KINDS.has(err.kind))) {
      ctx.logger.error({ err, ...log }, "handler failed permanently");
      observe(HANDLE_OUTCOMES.deadLettered);
      return deadLetter(ctx, msg, def.type, DLQ_REASONS.permanent, err);
    }
    if (deliveryCount >= ctx.maxDeliver) {
      ctx.logger.error({ err, ...log }, "handler failed on the last allowed delivery");
      observe(HANDLE_OUTCOMES.deadLettered);
      return deadLetter(ctx, msg, def.type, DLQ_REASONS.maxDeliver, err);
    }
    const delayMs =
      err instanceof RetryableError && err.delayMs !== undefined
        ? err.delayMs
        : backoffFor(ctx, deliveryCount);
    ctx.logger.warn({ err, ...log, delayMs }, "handler failed, will retry");
    observe(HANDLE_OUTCOMES.retried);
    return settle(ctx, def.type, HANDLE_OUTCOMES.retried, () => msg.nak(delayMs));
  }
  ctx.inProgress.delete(msg);
  observe(HANDLE_OUTCOMES.acked);
  if (ctx.confirmAcks) {
    try {
      await msg.ackAck();
    } catch (err) {
      ctx.logger.warn({ err, ...log }, "ack not confirmed; the message may be redelivered");
    }
  } else {
    ctx.acks.add(msg);
  }
  ctx.series(def.type, HANDLE_OUTCOMES.acked).handled.inc();
  return HANDLE_OUTCOMES.acked;
}

/** The metric label of an undecoded message's `ce-type`, bounded to the known types. */
function wireType(ctx: DeliveryContext, msg: JsMsg): string {
  return typeLabel(msg.headers?.get("ce-type"), ctx.defsByType);
}

export function backoffFor(ctx: Pick<DeliveryContext, "backoffMs">, deliveryCount: number): number {
  const steps = ctx.backoffMs;
  if (steps.length === 0) return 0;
  return steps[Math.min(deliveryCount - 1, steps.length - 1)]!;
}

function settle(ctx: DeliveryContext, type: string, outcome: HandleOutcome, act: () => void): HandleOutcome {
  act();
  ctx.series(type, outcome).handled.inc();
  return outcome;
}

/**
 * Copies the message to the DLQ, then terminates it. If the copy cannot be stored the message
 * is nak'ed instead, so it is never dropped without a dead letter.
 */
async function deadLetter(
  ctx: DeliveryContext,
  msg: JsMsg,
  type: string,
  reason: DlqReason,
  error: unknown,
): Promise<HandleOutcome> {
  const log = {
    subject: msg.subject,
    msgId: msg.headers?.get("ce-id") || undefined,
    deliveryCount: msg.info.deliveryCount,
  };
  try {
    await publishDeadLetter(ctx.js, ctx.names, msg, {
      service: ctx.service,
      durable: ctx.durable,
      reason,
      error,
    });
  } catch (err) {
    ctx.logger.error({ err, ...log, reason }, "could not dead-letter message, will retry");
    return settle(ctx, type, HANDLE_OUTCOMES.retried, () => msg.nak(backoffFor(ctx, msg.info.deliveryCount)));
  }
  ctx.logger.error({ err: error, ...log, reason, durable: ctx.durable }, "message dead-lettered");
  ctx.metrics.deadLettered.inc({ durable: ctx.durable, reason });
  return settle(ctx, type, HANDLE_OUTCOMES.deadLettered, () => msg.term());
}
