import type { MessageDefinition, MessageInput } from "@dbplane/contracts";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { Registry } from "prom-client";
import { type ConnectionStatus, connectTracked } from "./connection.ts";
import type { NatsAuth } from "./connection-auth.ts";
import { type BusConsumer, type ConsumeOptions, startConsumer } from "./consumer.ts";
import { type BusKv, type KvBucketOptions, openKv } from "./kv.ts";
import { createBusMetrics } from "./metrics.ts";
import { type BusNames, busNames, serviceInboxPrefix } from "./naming.ts";
import { PublishPipeline } from "./publish-pipeline.ts";
import { createPublisher, type PublishAck, type PublishOptions } from "./publisher.ts";
import { ensureTopology, TOPOLOGY_DEFAULTS } from "./topology.ts";

/** Options of `connectBus`. */
export interface BusOptions {
  /** NATS URL(s), e.g. `nats://nats:4222`. */
  readonly servers: string | readonly string[];
  /**
   * The service name: the NATS connection name and the CloudEvents source `dbplane/<name>` of
   * what it publishes, which consumers check against each message's declared producers.
   */
  readonly name: string;
  readonly logger: Logger;
  /** Isolates streams, subjects and buckets (tests): `<NS>_DBPLANE_CMD`, `<ns>.dbplane.…`, `<ns>_dbplane_<bucket>`. */
  readonly namespace?: string;
  /** Replicas of every stream and bucket. Default 1. */
  readonly streamReplicas?: number;
  /** JetStream duplicate window on every stream. Default 10 minutes. */
  readonly duplicateWindowMs?: number;
  /** Retention of `DBPLANE_EVT`. Default 7 days. */
  readonly eventMaxAgeMs?: number;
  /** Retention of `DBPLANE_DLQ`. Default 30 days. */
  readonly dlqMaxAgeMs?: number;
  /** Byte limit of `DBPLANE_EVT` (a quarter for `DBPLANE_CMD` and `DBPLANE_DLQ`). Default 1 GiB. */
  readonly streamMaxBytes?: number;
  /** How long `publish` keeps retrying (e.g. through a NATS outage) before PublishError. Default 30 s. */
  readonly publishTimeoutMs?: number;
  /** Registry for the `dbplane_bus_*` metrics (the one `/metrics` serves); a private one if omitted. */
  readonly registry?: Registry;
  /** Keep retrying the first connect instead of failing. Default true. */
  readonly waitOnFirstConnect?: boolean;
  /** NATS credentials and TLS (user/password, token, NKey, creds file; CA, client certificate). */
  readonly auth?: NatsAuth | undefined;
}

/** dbplane's JetStream layer: topology, typed publish with dedup, durable consumers, DLQ, KV. */
export interface Bus {
  readonly names: BusNames;
  /** The underlying connection, for what the bus does not cover. */
  readonly nc: NatsConnection;
  /** Creates or reconciles `DBPLANE_CMD`, `DBPLANE_EVT`, `DBPLANE_DLQ`. Idempotent; safe when processes race. */
  ensureTopology(): Promise<void>;
  /**
   * Validates `data` against the definition (InvalidMessageDataError from @dbplane/contracts, naming the fields, if not), wraps
   * it in a CloudEvents envelope (`ce-*` headers, JSON payload, `Nats-Msg-Id` = `ce-id`) and
   * waits for the stream's ack.
   *
   * During a NATS outage the publish is retried with the same msg id — JetStream's duplicate
   * window makes that safe — until `publishTimeoutMs` (bus option, or `options.timeoutMs`) has
   * passed, then PublishError is thrown. A PublishError therefore does not prove the message was
   * not stored: publish again with the same `id` to be sure. `duplicate` is true when the stream
   * already held the id (which includes an earlier attempt of this very call whose ack was lost).
   */
  publish<D extends MessageDefinition>(
    def: D,
    data: MessageInput<D>,
    options: PublishOptions,
  ): Promise<PublishAck>;
  /**
   * Encodes a message for `publishRaw`, once, ahead of its publish: a wire `subject`, the
   * payload's bytes, `headers` that carry `Nats-Msg-Id` for deduplication (encoded now, so
   * changed later they are not sent).
   */
  encodeRaw: PublishPipeline["encode"];
  /**
   * Publishes a message from `encodeRaw` and waits for the stream's ack: one attempt, no
   * validation, no envelope, no retry — for messages whose subject and content the caller owns
   * (the scheduler's job targets); call it again to retry. Rejects as described on
   * `PublishPipeline` (judge a failure with `isTransientPublishError`).
   */
  publishRaw: PublishPipeline["publishEncoded"];
  /** Writes what was published to the socket now, not at the end of the current task. */
  flushRaw: PublishPipeline["flush"];
  /**
   * Starts a durable pull consumer that runs each message's handler, chosen by its `ce-type`:
   * `consume({ durable, handlers: [handle(shardReady, onShardReady), …] })`. Call
   * `ensureTopology()` first.
   */
  consume(options: ConsumeOptions): Promise<BusConsumer>;
  /** Opens (creating if needed) the KV bucket `dbplane_<name>` (namespaced). */
  kv<T = unknown>(name: string, options?: KvBucketOptions<T>): Promise<BusKv<T>>;
  isConnected(): boolean;
  status(): ConnectionStatus;
  /** Stops every consumer (waiting for running handlers), then drains and closes the connection. */
  close(): Promise<void>;
}

/** Connects to NATS (reconnecting forever) and returns the bus. */
export async function connectBus(options: BusOptions): Promise<Bus> {
  const names = busNames(options.namespace);
  // The name is a token of the dead-letter subjects: refuse a bad one now, not at the first DLQ.
  names.dlqSubjectsOf(options.name);
  const logger = options.logger.child({ component: "bus" });
  const tracked = await connectTracked({
    servers: options.servers,
    name: options.name,
    logger,
    auth: options.auth,
    ...(options.waitOnFirstConnect !== undefined && { waitOnFirstConnect: options.waitOnFirstConnect }),
  });
  const { nc } = tracked;
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const metrics = createBusMetrics(options.registry ?? new Registry());
  const replicas = options.streamReplicas ?? TOPOLOGY_DEFAULTS.replicas;
  const pipeline = new PublishPipeline(nc, {
    inboxPrefix: serviceInboxPrefix(options.name),
    onReconnect: tracked.onReconnect,
  });
  const publish = createPublisher({
    publish: pipeline.publish.bind(pipeline),
    names,
    source: `dbplane/${options.name}`,
    publishTimeoutMs: options.publishTimeoutMs ?? 30_000,
    logger,
    metrics,
  });
  const consumers = new Set<BusConsumer>();
  let closing: Promise<void> | undefined;

  return {
    names,
    nc,
    ensureTopology: () =>
      ensureTopology(
        jsm,
        names,
        {
          replicas,
          duplicateWindowMs: options.duplicateWindowMs ?? TOPOLOGY_DEFAULTS.duplicateWindowMs,
          eventMaxAgeMs: options.eventMaxAgeMs ?? TOPOLOGY_DEFAULTS.eventMaxAgeMs,
          dlqMaxAgeMs: options.dlqMaxAgeMs ?? TOPOLOGY_DEFAULTS.dlqMaxAgeMs,
          streamMaxBytes: options.streamMaxBytes ?? TOPOLOGY_DEFAULTS.streamMaxBytes,
        },
        logger,
      ),
    publish,
    encodeRaw: pipeline.encode.bind(pipeline),
    publishRaw: pipeline.publishEncoded.bind(pipeline),
    flushRaw: pipeline.flush.bind(pipeline),
    async consume(consumeOptions) {
      if (closing) throw new Error("bus is closing");
      const consumer = await startConsumer(
        { js, jsm, names, service: options.name, logger, metrics, flush: () => nc.flush() },
        consumeOptions,
      );
      consumers.add(consumer);
      const stop = consumer.stop.bind(consumer);
      return {
        ...consumer,
        inFlight: consumer.inFlight,
        stop: async (stopOptions) => {
          await stop(stopOptions);
          consumers.delete(consumer);
        },
      };
    },
    kv: (name, kvOptions) => openKv(js, names.bucket(name), replicas, kvOptions),
    isConnected: () => tracked.status().connected,
    status: () => tracked.status(),
    close() {
      closing ??= (async () => {
        await Promise.all([...consumers].map((c) => c.stop()));
        if (!nc.isClosed()) await nc.drain();
      })();
      return closing;
    },
  };
}
