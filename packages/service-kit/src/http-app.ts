import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { getHeapStatistics } from "node:v8";
import underPressure from "@fastify/under-pressure";
import {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifySchemaCompiler,
  type FastifySchemaValidationError,
  fastify,
  LogController,
} from "fastify";
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import type { Registry } from "prom-client";
import { createBearerAuth } from "./auth.ts";
import type { Principal, TokenPolicy } from "./bearer-tokens.ts";
import { MIN_JWT_SECRET_LENGTH } from "./env-fragments.ts";
import { LazyChildLogger } from "./logger.ts";
import { createHttpMetrics, observeRequests } from "./metrics.ts";
import { registerOpenApi } from "./openapi.ts";
import { QUIET_PATHS, registerOpsRoutes } from "./ops-routes.ts";
import { handleError, handleNotFound } from "./problem.ts";
import { Readiness, type ReadinessCheck } from "./readiness.ts";
import { scopeParameters } from "./scopes.ts";

declare module "fastify" {
  interface FastifyInstance {
    /** Adds a named readiness check; `/health/ready` runs them all, each within its timeout. */
    addReadinessCheck(name: string, check: ReadinessCheck, options?: { timeoutMs?: number }): void;
    /** Turns readiness to 503 for good; the first step of shutdown. */
    startDraining(): void;
    readonly draining: boolean;
    /** The app's own Prometheus registry: register the service's metrics here. */
    readonly metricsRegistry: Registry;
  }
  interface FastifyRequest {
    /** The verified JWT claims and scopes on routes that require a token; null elsewhere. */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** Lets a route skip bearer auth (say so in a comment where you use it). */
    public?: boolean;
    /**
     * The scope the route needs, `{param}` filled from its path parameters: `"db:{db}:query"`.
     * Undeclared: `read` for a `/v1` GET, `admin` for a mutating route. Checked in one place
     * (the onRequest hook) and listed in the OpenAPI document as `x-dbplane-scope`.
     */
    scope?: string;
  }
}

/** The fastify instance every service gets: zod type provider, plain logger type. */
export type HttpApp = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

export interface CreateHttpAppOptions {
  readonly name: string;
  readonly version: string;
  readonly logger: FastifyBaseLogger;
  /** HS256 key of bearer tokens. */
  readonly jwtSecret: string;
  /** Required `iss`/`aud`, an identity provider's keys, anonymous read; default none of them. */
  readonly tokens?: Omit<TokenPolicy, "secret">;
  /** Share a registry with other code in the process; default: a fresh one per app. */
  readonly registry?: Registry;
  readonly bodyLimitBytes?: number;
  readonly requestTimeoutMs?: number;
  readonly keepAliveTimeoutMs?: number;
  /** Above this mean event-loop delay, requests (readiness included) answer 503. */
  readonly maxEventLoopDelayMs?: number;
}

/** Body limit: commands and queries are small; bulk data never travels through these APIs. */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;
/** Whole-request limit; generous for scatter-gather queries, finite so a stuck client cannot pin a socket. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** Longer than load balancers' idle timeouts (AWS ALB 60 s), so the LB never reuses a socket we just closed. */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 65_000;
export const DEFAULT_MAX_EVENT_LOOP_DELAY_MS = 1_000;

/** A scope template may only name the route's own path parameters: a typo would lock the route. */
function checkScopeParameters(url: string, scope: string | undefined): void {
  if (scope === undefined) return;
  const params = new Set([...url.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]));
  for (const name of scopeParameters(scope)) {
    if (!params.has(name))
      throw new RangeError(`route ${url}: scope "${scope}" names {${name}}, not a path parameter`);
  }
}

/** Most distinct path-parameter sets a route remembers as valid (see {@link fastPathValidatorCompiler}). */
const VALID_PARAMS_REMEMBERED = 1024;

/**
 * A route's `validatorCompiler` for a hot route: the same zod schemas decide, with two shortcuts
 * whose answers are the schemas' own. `body(data)` returns the parsed body for input it fully
 * recognises (a hand-written check of the route's common shape, defaults filled in as zod would),
 * or undefined to let zod parse it — so every invalid body gets zod's 400 naming its field. And
 * path parameters that passed once (`{ db: "shop" }`) are not parsed again: the schema is a pure
 * function of them, and a client calls the same few paths over and over.
 */
export function fastPathValidatorCompiler(fast: {
  body?: (data: unknown) => unknown;
}): FastifySchemaCompiler<unknown> {
  return (route) => {
    // fastify-type-provider-zod's validator always answers `{ value }` or `{ error }`.
    const slow = validatorCompiler(route as Parameters<typeof validatorCompiler>[0]) as (data: unknown) => {
      value?: unknown;
      error?: Error | FastifySchemaValidationError[];
    };
    if (route.httpPart === "body" && fast.body) {
      const body = fast.body;
      return (data: unknown) => {
        const value = body(data);
        return value === undefined ? slow(data) : { value };
      };
    }
    if (route.httpPart !== "params") return slow;
    const valid = new Map<string, unknown>();
    return (data: unknown) => {
      const remembered = paramsKey(data);
      const hit = remembered === undefined ? undefined : valid.get(remembered);
      if (hit !== undefined) return { value: { ...(hit as object) } };
      const result = slow(data);
      if (remembered !== undefined && !result.error && typeof result.value === "object") {
        if (valid.size >= VALID_PARAMS_REMEMBERED) valid.delete(valid.keys().next().value!);
        valid.set(remembered, { ...(result.value as object) });
      }
      return result;
    };
  };
}

/** A key for path parameters that are all strings (as fastify gives them), else undefined. */
function paramsKey(data: unknown): string | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  let key = "";
  for (const [name, value] of Object.entries(data)) {
    if (typeof value !== "string") return undefined;
    key += `${name}\0${value}\0`;
  }
  return key;
}

/** pino's level check; fastify's logger type does not declare it. */
function debugEnabled(log: FastifyBaseLogger): boolean {
  const pinoLike = log as FastifyBaseLogger & { isLevelEnabled?: (level: string) => boolean };
  return pinoLike.isLevelEnabled ? pinoLike.isLevelEnabled("debug") : true;
}

/** A connection that has sent nothing for this long is not about to send a request. */
const SILENT_CONNECTION_MS = 500;

/**
 * At close, connections that never sent a byte are destroyed. Node's `closeIdleConnections`
 * (fastify's `forceCloseConnections: "idle"`) closes kept-alive connections between requests,
 * not one that was opened and never used — an HTTP client's spare connection (undici opens one
 * when every other is busy and may never send on it). The server's close waited for it until
 * the headers timeout: a replica stopped by `bench scheduler` hung in "close HTTP server" for a
 * minute, on a connection its client had opened 50 s earlier. Nothing is lost: no request was
 * sent on it.
 */
function silentConnectionCloser(server: Server): (done: () => void) => void {
  const opened = new Map<Socket, number>();
  server.on("connection", (socket: Socket) => {
    opened.set(socket, Date.now());
    socket.once("close", () => opened.delete(socket));
  });
  return (done) => {
    const sweep = () => {
      for (const [socket, at] of opened)
        if (socket.bytesRead === 0 && Date.now() - at >= SILENT_CONNECTION_MS) socket.destroy();
    };
    sweep();
    const timer = setInterval(sweep, SILENT_CONNECTION_MS / 2).unref();
    server.once("close", () => clearInterval(timer));
    done();
  };
}

/**
 * Creates the service's fastify app with health, readiness, metrics, OpenAPI docs, RFC 9457
 * errors, bearer auth with per-route scopes and load shedding already registered. Add routes to it
 * (directly or as plugins) and hand it to `runService`.
 */
export async function createHttpApp(options: CreateHttpAppOptions): Promise<HttpApp> {
  if (options.jwtSecret.length < MIN_JWT_SECRET_LENGTH) {
    throw new RangeError(`jwtSecret must be at least ${MIN_JWT_SECRET_LENGTH} characters`);
  }
  const app = fastify({
    loggerInstance: options.logger,
    bodyLimit: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
    requestTimeout: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    forceCloseConnections: "idle",
    return503OnClosing: true,
    requestIdHeader: "x-request-id",
    // A URL fastify's router refuses (a path parameter over its length limit, bad encoding) is a
    // 4xx like any other: problem+json, not fastify's own JSON.
    frameworkErrors: (error, request, reply) => handleError(error, request, reply),
    // fastify's own two info lines per request would dominate the logs (and the CPU) of a busy
    // router; one debug line per request is logged below instead. Errors are logged anyway.
    logController: new LogController({ disableRequestLogging: true }),
    // The request's child logger is made when it first writes a line: most requests never do.
    childLoggerFactory: (logger, bindings, childOptions) =>
      new LazyChildLogger(logger, bindings, childOptions),
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(handleNotFound);

  const readiness = new Readiness();
  app.decorate("addReadinessCheck", (name: string, check: ReadinessCheck, opts?: { timeoutMs?: number }) =>
    readiness.add(name, check, opts),
  );
  app.decorate("startDraining", () => readiness.startDraining());
  app.decorate("draining", { getter: () => readiness.draining });

  const metrics = createHttpMetrics({
    service: options.name,
    version: options.version,
    registry: options.registry,
  });
  app.decorate("metricsRegistry", metrics.registry);
  observeRequests(app, metrics);

  // Hooks on every request take fastify's callback form: an async hook costs a promise and a
  // microtask per request for nothing here.
  app.addHook("onResponse", (request, reply, done) => {
    if (!debugEnabled(request.log) || QUIET_PATHS.has(request.url.split("?")[0] ?? "")) return done();
    request.log.debug(
      {
        method: request.method,
        route: request.routeOptions.url ?? "unmatched",
        statusCode: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 100) / 100,
      },
      "request completed",
    );
    done();
  });

  app.decorateRequest("principal", null);
  app.addHook("onRequest", createBearerAuth({ ...options.tokens, secret: options.jwtSecret }));
  app.addHook("onRoute", (route) => checkScopeParameters(route.url, route.config?.scope));
  // While draining, ask clients to reconnect (elsewhere): a kept-alive socket would keep this
  // pod's HTTP server from closing until the keep-alive timeout.
  app.addHook("onSend", (_request, reply, payload, done) => {
    if (readiness.draining) reply.header("Connection", "close");
    done(null, payload);
  });

  app.addHook("preClose", silentConnectionCloser(app.server));

  await app.register(underPressure, {
    maxEventLoopDelay: options.maxEventLoopDelayMs ?? DEFAULT_MAX_EVENT_LOOP_DELAY_MS,
    // Shed load before V8 runs out of heap and the process dies with every request in it.
    maxHeapUsedBytes: Math.floor(getHeapStatistics().heap_size_limit * 0.9),
    retryAfter: 5,
  });
  await registerOpenApi(app, {
    name: options.name,
    version: options.version,
    anonymousRead: options.tokens?.anonymousRead === true,
  });
  registerOpsRoutes(app, readiness, metrics);
  return app;
}
