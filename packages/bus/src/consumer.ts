import type { MessageDefinition } from "@dbplane/contracts";
import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { AckBatch } from "./ack-batch.ts";
import { ConcurrencyLimit } from "./concurrency-limit.ts";
import { type DefinitionHandler, type DeliveryContext, handleDelivery } from "./delivery.ts";
import { ensureDurable } from "./durable-consumer.ts";
import { type BusMetrics, HANDLE_OUTCOMES, handledSeriesCache, typeLabel } from "./metrics.ts";
import { type BusNames, commonFilterSubject } from "./naming.ts";

/** Options of `bus.consume`. */
export interface ConsumeOptions {
  /** Durable consumer name, shared by every replica of the service (`[A-Za-z0-9_-]+`). */
  readonly durable: string;
  /**
   * One `handle(def, handler)` per message this consumer handles; all commands or all events,
   * each definition once. The consumer's filter subject derives from them: NATS 2.9 allows one
   * filter subject per consumer, so several definitions share the longest common subject prefix
   * (`dbplane.evt.provisioner.>`) and the bus dispatches by `ce-type` client-side.
   */
  readonly handlers: readonly DefinitionHandler[];
  /** Handlers running at once in this process (also the pull batch size). Default 8. */
  readonly concurrency?: number;
  /** Deliveries before a failing message goes to the DLQ. Default 5. */
  readonly maxDeliver?: number;
  /** Nak delay by delivery count (1st failure → [0], …; the last value repeats). Default [500, 2000, 10000]. */
  readonly backoffMs?: readonly number[];
  /** Server-side ack deadline; the bus calls `working()` every half of it while a handler runs. Default 30 s. */
  readonly ackWaitMs?: number;
  /**
   * Wait for the server to confirm each ack (`ackAck`) before the handler counts as done.
   * Default false: acks are sent without waiting (more than twice the throughput) and `stop()`
   * flushes the connection, so acks of finished handlers reach the server before it resolves.
   * Handlers are idempotent either way (delivery is at-least-once).
   */
  readonly confirmAcks?: boolean;
  /** Where a new durable starts: the whole stream (default) or only messages after its creation. */
  readonly deliverPolicy?: "all" | "new";
  /**
   * Handle messages strictly in stream order across every replica: the durable allows one
   * unacknowledged message at a time (`max_ack_pending: 1`), so a failing message holds the
   * ones behind it until it succeeds or is dead-lettered. For low-volume lifecycle events whose
   * order matters (a database's ready, then deleted). Default false.
   */
  readonly ordered?: boolean;
}

/** A running durable consumer. */
export interface BusConsumer {
  readonly durable: string;
  readonly stream: string;
  readonly filterSubject: string;
  /** Handlers running now. */
  inFlight(): number;
  /**
   * Stops pulling, hands buffered (not yet started) messages back to the server, waits for the
   * running handlers to finish and their acks to be confirmed, then resolves. With `timeoutMs`,
   * handlers still running by then get their `signal` aborted and stop resolves without them;
   * whatever they leave unacked is redelivered after `ackWaitMs`. Idempotent.
   */
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

export interface ConsumerDeps {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly names: BusNames;
  /** The bus's service name (`BusOptions.name`). */
  readonly service: string;
  readonly logger: Logger;
  readonly metrics: BusMetrics;
  /** Round trip to the server: every ack sent before it has reached the server. */
  readonly flush: () => Promise<void>;
}

export const CONSUME_DEFAULTS = {
  concurrency: 8,
  maxDeliver: 5,
  backoffMs: [500, 2_000, 10_000],
  ackWaitMs: 30_000,
} as const;

export async function startConsumer(deps: ConsumerDeps, options: ConsumeOptions): Promise<BusConsumer> {
  const handlersByType = new Map<string, DefinitionHandler>();
  for (const entry of options.handlers) {
    if (handlersByType.has(entry.def.type))
      throw new Error(`durable ${options.durable} has two handlers for ${entry.def.type}`);
    handlersByType.set(entry.def.type, entry);
  }
  const defs: MessageDefinition[] = options.handlers.map((h) => h.def);
  if (defs.length === 0) throw new Error("consume needs at least one handler");
  const kinds = new Set(defs.map((d) => d.kind));
  if (kinds.size > 1)
    throw new Error(`durable ${options.durable} mixes commands and events; use one consumer for each`);
  const isCommandStream = defs[0]!.kind === "command";
  const stream = deps.names.stream(deps.names.streamRoleOf(defs[0]!.kind));
  const filterSubject = commonFilterSubject(defs.map((d) => deps.names.subject(d.subject)));
  const ackWaitMs = options.ackWaitMs ?? CONSUME_DEFAULTS.ackWaitMs;
  // An ordered durable hands out one message at a time anyway; pulling more would only wait.
  const concurrency = options.ordered ? 1 : (options.concurrency ?? CONSUME_DEFAULTS.concurrency);
  const logger = deps.logger.child({ durable: options.durable });
  await ensureDurable(
    deps.jsm,
    {
      stream,
      durable: options.durable,
      filterSubject,
      ackWaitMs,
      deliverPolicy: options.deliverPolicy ?? "all",
      ordered: options.ordered ?? false,
    },
    logger,
  );

  const ctx: DeliveryContext = {
    js: deps.js,
    names: deps.names,
    service: deps.service,
    durable: options.durable,
    isCommandStream,
    handlersByType,
    defsByType: new Map(defs.map((d) => [d.type, d])),
    subjects: new Set(defs.map((d) => d.subject)),
    maxDeliver: options.maxDeliver ?? CONSUME_DEFAULTS.maxDeliver,
    backoffMs: options.backoffMs ?? CONSUME_DEFAULTS.backoffMs,
    ackWaitMs,
    confirmAcks: options.confirmAcks ?? false,
    acks: new AckBatch((err, lost) =>
      logger.warn({ err, lost }, "acks not sent (connection closed); those messages will be redelivered"),
    ),
    inProgress: new Set(),
    logger,
    metrics: deps.metrics,
    series: handledSeriesCache(deps.metrics, options.durable),
  };
  const consumer = await deps.js.consumers.get(stream, options.durable);
  // Pull batches of `concurrency`: the client re-pulls only as the loop below takes messages,
  // so at most one batch waits in the buffer while `concurrency` handlers run.
  const messages = await consumer.consume({ max_messages: concurrency });
  const limit = new ConcurrencyLimit(concurrency);
  // One controller for all handlers: the only aborts are "stop timed out", which hits them all.
  const abort = new AbortController();
  let running = 0;
  let stopping = false;
  const ticker = setInterval(
    () => {
      for (const msg of ctx.inProgress) msg.working();
    },
    Math.max(250, Math.floor(ackWaitMs / 2)),
  );
  ticker.unref();

  void logNotifications(messages, logger);
  const release = (msg: JsMsg) => {
    msg.nak();
    ctx
      .series(typeLabel(msg.headers?.get("ce-type"), ctx.defsByType), HANDLE_OUTCOMES.released)
      .handled.inc();
  };
  const loop = (async () => {
    for await (const msg of messages) {
      if (stopping || !(await limit.acquire())) {
        release(msg);
        continue;
      }
      running++;
      void handleDelivery(ctx, msg, abort.signal).finally(() => {
        running--;
        limit.release();
      });
    }
  })().catch((err: unknown) => logger.error({ err }, "consumer loop failed"));
  logger.info({ stream, filterSubject, concurrency }, "consumer started");

  let stopped: Promise<void> | undefined;
  return {
    durable: options.durable,
    stream,
    filterSubject,
    inFlight: () => running,
    stop(stopOptions = {}) {
      stopped ??= (async () => {
        stopping = true;
        limit.close();
        void messages.close();
        await loop;
        const idle = limit.idle();
        if (stopOptions.timeoutMs === undefined) {
          await idle;
        } else {
          let timer: NodeJS.Timeout | undefined;
          const timedOut = new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(true), stopOptions.timeoutMs);
          });
          if (await Promise.race([idle.then(() => false), timedOut])) {
            logger.warn({ inFlight: running }, "consumer stop timed out; aborting running handlers");
            abort.abort(new Error("consumer stopped"));
          }
          clearTimeout(timer);
        }
        clearInterval(ticker);
        // Acks of the last handlers may still wait for their turn's end: write them before the flush.
        ctx.acks.send();
        await deps.flush().catch((err: unknown) => logger.warn({ err }, "flush after stop failed"));
        logger.info("consumer stopped");
      })();
      return stopped;
    },
  };
}

async function logNotifications(messages: ConsumerMessages, logger: Logger): Promise<void> {
  for await (const n of messages.status()) {
    switch (n.type) {
      case "heartbeats_missed":
      case "consumer_not_found":
      case "stream_not_found":
      case "consumer_deleted":
      case "exceeded_limits":
      case "no_responders":
        logger.warn({ notification: n }, `consumer ${n.type.replaceAll("_", " ")}`);
        break;
      default:
        logger.trace({ notification: n }, "consumer notification");
    }
  }
}
