import type { Bus } from "@dbplane/bus";
import type { Redis } from "ioredis";
import type pg from "pg";
import { jwtSecretOrRandom } from "./bearer-tokens.ts";
import type { LogLevel } from "./env-fragments.ts";
import { createHttpApp, type HttpApp } from "./http-app.ts";
import { createLogger, type Logger } from "./logger.ts";
import { type PlatformPoolEnv, type PlatformPoolOptions, platformPool } from "./platform-pool.ts";
import type { ReadinessCheck } from "./readiness.ts";
import { type RedisEnv, redisClient } from "./redis-client.ts";
import {
  type ListenEnv,
  listenOptions,
  type RunningService,
  runService,
  type ShutdownStep,
} from "./run-service.ts";
import { type BusEnv, connectServiceBus } from "./service-bus.ts";
import { serviceVersion } from "./service-identity.ts";

/** What every service's parsed config holds: `baseEnv` and one of `authEnv` / `readOnlyAuthEnv`. */
export interface ServiceEnv extends ListenEnv, BusEnv {
  readonly DBPLANE_LOG_LEVEL: LogLevel;
  readonly DBPLANE_JWT_SECRET?: string | undefined;
  readonly DBPLANE_JWT_ISSUER?: string | undefined;
  readonly DBPLANE_JWT_AUDIENCE?: string | undefined;
  readonly DBPLANE_JWT_JWKS_URL?: string | undefined;
  readonly DBPLANE_JWT_PUBLIC_KEY?: string | undefined;
  readonly DBPLANE_ANONYMOUS_READ?: boolean | undefined;
  readonly DBPLANE_HTTP_MAX_EVENT_LOOP_DELAY_MS: number;
}

/** The two lists of `runService`'s shutdown. */
export interface ServiceShutdown {
  readonly stopWork?: readonly ShutdownStep[];
  readonly closeConnections?: readonly ShutdownStep[];
}

/**
 * The kit's wiring with the service's name, config, logger and version filled in. Each call does
 * one thing when `main.ts` makes it, so the composition root still says what starts in which order.
 */
export interface ServiceProcess<E extends ServiceEnv> {
  readonly name: string;
  readonly config: E;
  readonly logger: Logger;
  /**
   * `createHttpApp`, with these readiness checks added (say `{ postgres: poolReadiness(pool) }`). A
   * read-only service without a configured key gets a random one, so no token is ever valid.
   */
  httpApp(readinessChecks?: Readonly<Record<string, ReadinessCheck>>): Promise<HttpApp>;
  /** `connectServiceBus` into the app's registry (and readiness, unless `readinessCheck: false`). */
  connectBus(app: HttpApp, options?: { readonly readinessCheck?: boolean }): Promise<Bus>;
  /** `platformPool`, with any pg setting (`max`, `statement_timeout`, …) added or overridden. */
  platformPool(
    this: ServiceProcess<E & PlatformPoolEnv>,
    settings?: Omit<PlatformPoolOptions, "name" | "logger">,
  ): pg.Pool;
  /** `redisClient`, connected. */
  redis(this: ServiceProcess<E & RedisEnv>): Promise<Redis>;
  /** `runService`: listens on the configured host and port, and shuts down in the given steps. */
  run(app: HttpApp, shutdown: ServiceShutdown): Promise<RunningService>;
}

/**
 * Binds a service's name, parsed config, logger (at the configured level) and version once. `mainUrl`
 * is the `import.meta.url` of the service's `src/main.ts`: the version is read from the
 * package.json beside `src/`.
 */
export function serviceProcess<E extends ServiceEnv>(
  name: string,
  config: E,
  mainUrl: string,
): ServiceProcess<E> {
  const logger = createLogger({ name, level: config.DBPLANE_LOG_LEVEL });
  return {
    name,
    config,
    logger,
    async httpApp(readinessChecks = {}) {
      const app = await createHttpApp({
        name,
        version: serviceVersion(new URL("../package.json", mainUrl)),
        logger,
        jwtSecret: jwtSecretOrRandom(config.DBPLANE_JWT_SECRET),
        tokens: {
          issuer: config.DBPLANE_JWT_ISSUER,
          audience: config.DBPLANE_JWT_AUDIENCE,
          jwksUrl: config.DBPLANE_JWT_JWKS_URL,
          publicKey: config.DBPLANE_JWT_PUBLIC_KEY,
          anonymousRead: config.DBPLANE_ANONYMOUS_READ,
        },
        maxEventLoopDelayMs: config.DBPLANE_HTTP_MAX_EVENT_LOOP_DELAY_MS,
      });
      for (const [check, probe] of Object.entries(readinessChecks)) app.addReadinessCheck(check, probe);
      return app;
    },
    connectBus: (app, busOptions) => connectServiceBus(app, config, { name, logger, ...busOptions }),
    platformPool(settings) {
      return platformPool(this.config, { name, logger, ...settings });
    },
    redis() {
      return redisClient(this.config, { logger });
    },
    run: (app, shutdown) => runService({ name, logger, app, ...listenOptions(config), ...shutdown }),
  };
}
