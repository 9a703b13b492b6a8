import type { PubAck } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { type ConnectionStatus, connectTracked } from "./connection.ts";
import type { NatsAuth } from "./connection-auth.ts";
import { serviceInboxPrefix } from "./naming.ts";
import { type EncodedPublish, PublishPipeline } from "./publish-pipeline.ts";

export type { EncodedPublish } from "./publish-pipeline.ts";
export { isTransientPublishError } from "./publish-pipeline.ts";

export interface RawPublisherOptions {
  readonly servers: string | readonly string[];
  /** The service's name: the connection's name and its inbox prefix, as the bus's. */
  readonly name: string;
  readonly logger: Logger;
  readonly auth?: NatsAuth | undefined;
}

/** A connection that only publishes to streams, messages encoded ahead: see `connectRawPublisher`. */
export interface RawPublisher {
  encode(subject: string, payload: Uint8Array, headers: MsgHdrs): EncodedPublish;
  publishEncoded(message: EncodedPublish, timeoutMs: number): Promise<PubAck>;
  /** Writes what was published to the socket now. */
  flush(): void;
  /** Acks awaited. */
  readonly inFlight: number;
  status(): ConnectionStatus;
  /** Drains and closes the connection (acks awaited are answered first or fail). */
  close(): Promise<void>;
}

/**
 * The bus's raw publishing (`encodeRaw`/`publishRaw`/`flushRaw`) on a connection of its own,
 * with the same credentials, name and inbox prefix: for a worker thread whose event loop does
 * nothing but publish (the scheduler's firing thread), so that no PostgreSQL result, HTTP
 * request or garbage collection of the service's main thread stands between a due time and
 * its publish.
 */
export async function connectRawPublisher(options: RawPublisherOptions): Promise<RawPublisher> {
  const tracked = await connectTracked({
    servers: options.servers,
    name: options.name,
    logger: options.logger,
    auth: options.auth,
  });
  const pipeline = new PublishPipeline(tracked.nc, {
    inboxPrefix: serviceInboxPrefix(options.name),
    onReconnect: tracked.onReconnect,
  });
  return {
    encode: pipeline.encode.bind(pipeline),
    publishEncoded: pipeline.publishEncoded.bind(pipeline),
    flush: pipeline.flush.bind(pipeline),
    get inFlight() {
      return pipeline.size;
    },
    status: () => tracked.status(),
    async close() {
      if (!tracked.nc.isClosed()) await tracked.nc.drain();
    },
  };
}
