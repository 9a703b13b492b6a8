import { setTimeout as sleep } from "node:timers/promises";
import closeWithGrace from "close-with-grace";
import type { Logger } from "pino";
import type { HttpApp } from "./http-app.ts";

/** One named step of shutdown, e.g. `{ name: "drain NATS", run: () => nc.drain() }`. */
export interface ShutdownStep {
  readonly name: string;
  run(): Promise<void> | void;
}

export interface RunServiceOptions {
  readonly name: string;
  readonly logger: Logger;
  readonly app: HttpApp;
  readonly host: string;
  readonly port: number;
  /** Pause between readiness 503 and the first stop step, so endpoints drop the pod first. */
  readonly shutdownDelayMs: number;
  /** The whole shutdown must finish within this, or the process exits 1. */
  readonly shutdownTimeoutMs: number;
  /** Run in order before HTTP closes: stop consumers and let in-flight messages finish. */
  readonly stopWork?: readonly ShutdownStep[];
  /** Run in order after HTTP closed (nothing can use them any more): drain NATS, close pools. */
  readonly closeConnections?: readonly ShutdownStep[];
}

/** The parsed `httpEnv` and `shutdownEnv` fragments. */
export interface ListenEnv {
  readonly DBPLANE_HTTP_HOST: string;
  readonly DBPLANE_HTTP_PORT: number;
  readonly DBPLANE_SHUTDOWN_DELAY_MS: number;
  readonly DBPLANE_SHUTDOWN_TIMEOUT_MS: number;
}

/** `host`, `port` and the shutdown timings of `runService`, from the service's parsed env. */
export function listenOptions(env: ListenEnv) {
  return {
    host: env.DBPLANE_HTTP_HOST,
    port: env.DBPLANE_HTTP_PORT,
    shutdownDelayMs: env.DBPLANE_SHUTDOWN_DELAY_MS,
    shutdownTimeoutMs: env.DBPLANE_SHUTDOWN_TIMEOUT_MS,
  } as const;
}

export interface RunningService {
  /** Where the server listens, e.g. `http://127.0.0.1:7101`. */
  readonly url: string;
  /** Starts the same graceful shutdown a SIGTERM would (then the process exits). */
  shutdown(): void;
}

/**
 * Owns the process (STYLE.md §9): listens, then on SIGTERM/SIGINT turns readiness to 503, waits
 * `shutdownDelayMs`, runs `stopWork`, closes HTTP (in-flight requests finish), runs
 * `closeConnections`, and exits 0. A second signal, the timeout, or a failed step exits 1. An
 * uncaught exception or unhandled rejection is logged as fatal, the same steps run without the
 * delay, and the process exits 1.
 */
export async function runService(options: RunServiceOptions): Promise<RunningService> {
  const { logger, app } = options;
  if (options.shutdownDelayMs >= options.shutdownTimeoutMs) {
    throw new RangeError("shutdownDelayMs must be shorter than shutdownTimeoutMs");
  }
  const steps = shutdownPlan(options);
  const grace = closeWithGrace(
    {
      delay: options.shutdownTimeoutMs,
      logger: false,
      onSecondSignal: (signal) => logger.error({ signal }, "second signal during shutdown: exiting 1"),
      onSecondError: (err) => logger.fatal({ err }, "another error during shutdown: exiting 1"),
      onTimeout: (delay) => logger.error({ timeoutMs: delay }, "shutdown timed out: exiting 1"),
    },
    async ({ signal, err, manual }) => {
      if (err) logger.fatal({ err }, "uncaught error: shutting down");
      logger.info({ signal, manual: manual === true }, "shutdown started");
      const failed = await runSteps(logger, steps(err === undefined));
      if (failed.length > 0) throw new Error(`shutdown steps failed: ${failed.join(", ")}`);
      logger.info({ exitCode: err ? 1 : 0 }, "shutdown complete");
    },
  );

  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (err) {
    logger.fatal({ err, host: options.host, port: options.port }, "cannot listen");
    grace.uninstall();
    process.exit(1);
  }
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const url = `http://${options.host === "0.0.0.0" ? "127.0.0.1" : options.host}:${port}`;
  logger.info({ service: options.name, url }, "service started");
  return { url, shutdown: grace.close };
}

function shutdownPlan(options: RunServiceOptions): (withDelay: boolean) => ShutdownStep[] {
  const { app, shutdownDelayMs } = options;
  return (withDelay) => [
    { name: "mark not ready", run: () => app.startDraining() },
    ...(withDelay && shutdownDelayMs > 0
      ? [{ name: "wait for endpoints to drop the pod", run: () => sleep(shutdownDelayMs) }]
      : []),
    ...(options.stopWork ?? []),
    { name: "close HTTP server", run: () => app.close() },
    ...(options.closeConnections ?? []),
  ];
}

/** Runs every step even when one fails (pools still close after a failed drain); returns the failures. */
async function runSteps(logger: Logger, steps: readonly ShutdownStep[]): Promise<string[]> {
  const failed: string[] = [];
  for (const step of steps) {
    logger.info({ shutdownStep: step.name }, `shutdown step: ${step.name}`);
    try {
      await step.run();
      logger.info({ shutdownStep: step.name }, `shutdown step done: ${step.name}`);
    } catch (err) {
      failed.push(step.name);
      logger.error({ err, shutdownStep: step.name }, `shutdown step failed: ${step.name}`);
    }
  }
  return failed;
}
