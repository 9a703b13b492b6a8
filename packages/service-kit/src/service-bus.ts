import { type Bus, connectBus, type NatsAuth } from "@dbplane/bus";
import type { HttpApp } from "./http-app.ts";
import type { Logger } from "./logger.ts";

/** The bus settings of the `natsEnv` fragment, as parsed. */
export interface BusEnv {
  readonly DBPLANE_NATS_URL: string | readonly string[];
  readonly DBPLANE_NATS_NAMESPACE?: string | undefined;
  readonly DBPLANE_STREAM_REPLICAS: number;
  readonly DBPLANE_STREAM_MAX_BYTES: number;
  readonly DBPLANE_NATS_USER?: string | undefined;
  readonly DBPLANE_NATS_PASSWORD?: string | undefined;
  readonly DBPLANE_NATS_TOKEN?: string | undefined;
  readonly DBPLANE_NATS_NKEY_FILE?: string | undefined;
  readonly DBPLANE_NATS_CREDS?: string | undefined;
  readonly DBPLANE_NATS_TLS_CA?: string | undefined;
  readonly DBPLANE_NATS_TLS_CERT?: string | undefined;
  readonly DBPLANE_NATS_TLS_KEY?: string | undefined;
}

/** The bus's credentials and TLS from the `natsEnv` variables; none of them set means none. */
export function natsAuthFromEnv(env: BusEnv): NatsAuth {
  const tls =
    env.DBPLANE_NATS_TLS_CA !== undefined ||
    env.DBPLANE_NATS_TLS_CERT !== undefined ||
    env.DBPLANE_NATS_TLS_KEY !== undefined
      ? {
          caFile: env.DBPLANE_NATS_TLS_CA,
          certFile: env.DBPLANE_NATS_TLS_CERT,
          keyFile: env.DBPLANE_NATS_TLS_KEY,
        }
      : undefined;
  return {
    user: env.DBPLANE_NATS_USER,
    password: env.DBPLANE_NATS_PASSWORD,
    token: env.DBPLANE_NATS_TOKEN,
    nkeySeedFile: env.DBPLANE_NATS_NKEY_FILE,
    credsFile: env.DBPLANE_NATS_CREDS,
    tls,
  };
}

export interface ServiceBusOptions {
  readonly name: string;
  readonly logger: Logger;
  /**
   * Adds a `nats` readiness check (default true). A service whose data path does not need NATS
   * (the router keeps routing by its last shard map) leaves it out, so a NATS blip does not take
   * every replica out of service at once.
   */
  readonly readinessCheck?: boolean;
}

/**
 * Connects the service's bus the way every service does: servers, credentials, TLS, namespace
 * and stream replicas from the environment, metrics into the app's registry, the topology ensured (idempotent; the
 * first service up creates it) and, unless told otherwise, a readiness check.
 */
export async function connectServiceBus(app: HttpApp, env: BusEnv, options: ServiceBusOptions): Promise<Bus> {
  const bus = await connectBus({
    servers: env.DBPLANE_NATS_URL,
    name: options.name,
    logger: options.logger,
    namespace: env.DBPLANE_NATS_NAMESPACE,
    streamReplicas: env.DBPLANE_STREAM_REPLICAS,
    streamMaxBytes: env.DBPLANE_STREAM_MAX_BYTES,
    registry: app.metricsRegistry,
    auth: natsAuthFromEnv(env),
  });
  await bus.ensureTopology();
  if (options.readinessCheck ?? true) {
    app.addReadinessCheck("nats", async () => {
      if (!bus.isConnected()) throw new Error("NATS disconnected");
    });
  }
  return bus;
}
