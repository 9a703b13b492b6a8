import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { type NatsAuth, natsAuthOptions } from "./connection-auth.ts";
import { serviceInboxPrefix } from "./naming.ts";

/** What `bus.status()` reports; readiness probes look at `connected`. */
export interface ConnectionStatus {
  readonly state: "connected" | "reconnecting" | "draining" | "closed";
  readonly connected: boolean;
  /** The server currently (or last) connected to. */
  readonly server: string | undefined;
  /** Successful reconnects since start. */
  readonly reconnects: number;
  /** When the connection was last lost, if it is not connected now. */
  readonly disconnectedAt: Date | undefined;
  readonly lastError: string | undefined;
}

export interface ConnectOptions {
  readonly servers: string | readonly string[];
  readonly name: string;
  readonly logger: Logger;
  /** Keep retrying the very first connect instead of failing (pods may start before NATS). */
  readonly waitOnFirstConnect?: boolean;
  readonly reconnectTimeWaitMs?: number;
  /** Credentials and TLS; none (the local default) connects anonymously in plain text. */
  readonly auth?: NatsAuth | undefined;
}

export interface TrackedConnection {
  readonly nc: NatsConnection;
  status(): ConnectionStatus;
  /** Calls `listener` at every successful reconnect until the returned function is called. */
  onReconnect(listener: () => void): () => void;
}

/**
 * Connects with endless reconnects (1 s ± jitter between attempts) and logs every state change
 * the client reports, so an outage is visible in the logs without any operator action.
 */
export async function connectTracked(options: ConnectOptions): Promise<TrackedConnection> {
  const { logger } = options;
  const nc = await connect({
    ...natsAuthOptions(options.auth),
    servers: typeof options.servers === "string" ? options.servers : [...options.servers],
    name: options.name,
    inboxPrefix: serviceInboxPrefix(options.name),
    maxReconnectAttempts: -1,
    reconnectTimeWait: options.reconnectTimeWaitMs ?? 1_000,
    reconnectJitter: 250,
    waitOnFirstConnect: options.waitOnFirstConnect ?? true,
    // Detect a silently dead server within ~1 minute instead of the 4-minute default.
    pingInterval: 20_000,
    maxPingOut: 3,
    // nats.js otherwise builds two Error objects per request (publish ack, ack confirm) only to
    // keep async stack traces: a fifth of the CPU on the publish path, measured in bench/bus.
    noAsyncTraces: true,
  });
  let state: ConnectionStatus["state"] = "connected";
  let server: string | undefined = nc.getServer();
  let reconnects = 0;
  let disconnectedAt: Date | undefined;
  let lastError: string | undefined;
  const reconnectListeners = new Set<() => void>();
  logger.info({ server }, "nats connected");

  void (async () => {
    for await (const s of nc.status()) {
      switch (s.type) {
        case "disconnect":
          state = "reconnecting";
          disconnectedAt = new Date();
          logger.warn({ server: s.server }, "nats disconnected");
          break;
        case "reconnecting":
          logger.debug("nats reconnecting");
          break;
        case "reconnect":
          state = "connected";
          server = s.server;
          reconnects++;
          logger.info(
            { server: s.server, downMs: disconnectedAt ? Date.now() - disconnectedAt.getTime() : 0 },
            "nats reconnected",
          );
          disconnectedAt = undefined;
          for (const listener of reconnectListeners) listener();
          break;
        case "error":
          lastError = s.error.message;
          logger.error({ err: s.error }, "nats error");
          break;
        case "staleConnection":
          logger.warn("nats connection stale, reconnecting");
          break;
        case "ldm":
          logger.warn({ server: s.server }, "nats server entering lame-duck mode");
          break;
        case "slowConsumer":
          logger.warn({ subject: s.sub.getSubject(), pending: s.pending }, "nats slow consumer");
          break;
        case "close":
          state = "closed";
          logger.info("nats connection closed");
          break;
        default:
          logger.trace({ status: s.type }, "nats status");
      }
    }
  })();
  void nc.closed().then((err) => {
    state = "closed";
    if (err) {
      lastError = err.message;
      logger.error({ err }, "nats connection closed with error");
    }
  });

  return {
    nc,
    onReconnect(listener) {
      reconnectListeners.add(listener);
      return () => reconnectListeners.delete(listener);
    },
    status: () => ({
      state: nc.isClosed() ? "closed" : nc.isDraining() ? "draining" : state,
      connected: !nc.isClosed() && !nc.isDraining() && state === "connected",
      server,
      reconnects,
      disconnectedAt,
      lastError,
    }),
  };
}
