import { type Bus, connectBus } from "@dbplane/bus";
import type { HttpApp } from "./http-app.ts";
import type { Logger } from "./logger.ts";

/** The bus settings of the `natsEnv` fragment, as parsed. */
export interface BusEnv {
  readonly DBPLANE_NATS_URL: string | readonly string[];
  readonly DBPLANE_NATS_NAMESPACE?: string | undefined;
  readonly DBPLANE_STREAM_REPLICAS: number;
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
 * Connects the service's bus the way every service does: servers, namespace and stream replicas
 * from the environment, metrics into the app's registry, the topology ensured (idempotent; the
 * first service up creates it) and, unless told otherwise, a readiness check.
 */
export async function connectServiceBus(app: HttpApp, env: BusEnv, options: ServiceBusOptions): Promise<Bus> {
  const bus = await connectBus({
    servers: env.DBPLANE_NATS_URL,
    name: options.name,
    logger: options.logger,
    namespace: env.DBPLANE_NATS_NAMESPACE,
    streamReplicas: env.DBPLANE_STREAM_REPLICAS,
    registry: app.metricsRegistry,
  });
  await bus.ensureTopology();
  if (options.readinessCheck ?? true) {
    app.addReadinessCheck("nats", async () => {
      if (!bus.isConnected()) throw new Error("NATS disconnected");
    });
  }
  return bus;
}
