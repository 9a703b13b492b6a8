import { STATUS_CODES } from "node:http";
import { DomainError, type ErrorKind } from "@dbplane/contracts";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { type FieldError, ForbiddenError, HttpError, UnauthorizedError } from "./errors.ts";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** An RFC 9457 problem document, with our extension members `code`, `errors` and `requestId`. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly instance: string;
  readonly code?: string;
  readonly errors?: readonly FieldError[];
  readonly requestId?: string;
  readonly [extension: string]: unknown;
}

/** `urn:dbplane:problem:not-found` for code `NOT_FOUND`; `about:blank` when there is no code. */
export function problemType(code: string | undefined): string {
  return code ? `urn:dbplane:problem:${code.toLowerCase().replaceAll("_", "-")}` : "about:blank";
}

/** Builds a problem for `request`, titled by the HTTP status phrase. */
export function problem(
  request: FastifyRequest,
  status: number,
  detail: string,
  extra: { code?: string; errors?: readonly FieldError[]; [extension: string]: unknown } = {},
): Problem {
  return {
    type: problemType(extra.code),
    title: STATUS_CODES[status] ?? "Error",
    status,
    detail,
    instance: request.url,
    ...extra,
  };
}

/**
 * Sends a problem document. The body is serialised here, not by the route's serializer, so a
 * route's own response schema for the same status can never reshape (or reject) the problem.
 */
export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
}

const GENERIC_DETAIL: Readonly<Record<number, string>> = {
  503: "The service is temporarily unavailable; retry later.",
};
const INTERNAL_DETAIL = "An internal error occurred; it has been logged with the request id.";

/** RFC 6750 §3 scope-token: printable ASCII without space, `"` and `\\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

const PART_NAMES: Readonly<Record<string, string>> = { querystring: "query" };

/**
 * The answer to each kind of domain error. Invalid, not found and conflict answer the codes of
 * the kit's ValidationError, NotFoundError and ConflictError, so clients branch on a few codes
 * (the error's own goes to the log); the rarer kinds answer the error's own code.
 */
const KIND_PROBLEMS: Readonly<Record<ErrorKind, { readonly status: number; readonly code?: string }>> = {
  invalid: { status: 400, code: "VALIDATION_FAILED" },
  not_found: { status: 404, code: "NOT_FOUND" },
  conflict: { status: 409, code: "CONFLICT" },
  unprocessable: { status: 422 },
  unavailable: { status: 503 },
};

/**
 * A domain error's field as the client sent it: in the query string or the path parameters
 * when one of those holds its first segment (`query.cursor`), else in the body (`body.shards`);
 * the whole input (`""`) is `body`.
 */
function requestField(request: FastifyRequest, field: string): string {
  if (field === "") return "body";
  const top = field.split(".")[0]!;
  for (const [part, values] of [
    ["query", request.query],
    ["params", request.params],
  ] as const) {
    if (typeof values === "object" && values !== null && Object.hasOwn(values, top))
      return `${part}.${field}`;
  }
  return `body.${field}`;
}

function domainProblem(error: DomainError, request: FastifyRequest) {
  const { status, code = error.code } = KIND_PROBLEMS[error.kind];
  request.log.info({ code: error.code, kind: error.kind, status }, error.message);
  const errors = error.issues.map((i) => ({ field: requestField(request, i.field), message: i.message }));
  return problem(request, status, error.message, errors.length > 0 ? { code, errors } : { code });
}

/** Fastify/zod validation issues as dotted field paths: `/shards/0` in the body → `body.shards.0`. */
function fieldErrors(error: FastifyError): FieldError[] {
  const context = error.validationContext ?? "body";
  const part = PART_NAMES[context] ?? context;
  return (error.validation ?? []).map((issue) => {
    const path = issue.instancePath.split("/").filter(Boolean);
    return { field: [part, ...path].join("."), message: issue.message ?? "is invalid" };
  });
}

/** The most of a refused body's declared length read and thrown away to answer it reliably. */
export const MAX_DRAINED_BODY_BYTES = 64 * 1024 * 1024;
/** How long the rest of a refused body may take to arrive before its connection is closed. */
export const MAX_DRAIN_MS = 10_000;

/**
 * fastify answers a body declared larger than its limit with `Connection: close`, without reading
 * it: the socket is closed with the body still arriving, the kernel answers it with a reset, and a
 * client still writing the body gets EPIPE instead of the 413 (7% of 1.1 MB bodies sent from
 * another process). When nothing of the body was read and its declared length is at most
 * {@link MAX_DRAINED_BODY_BYTES}, the connection is kept: Node reads the rest and throws it away
 * for at most {@link MAX_DRAIN_MS}, as nginx discards a refused body. A body found too large while
 * being read keeps fastify's close: its stream is half-read and cannot be handed back.
 */
function drainUnreadBody(request: FastifyRequest, reply: FastifyReply): void {
  const declared = Number(request.headers["content-length"]);
  const { raw } = request;
  if (raw.readableDidRead || !(declared <= MAX_DRAINED_BODY_BYTES)) return;
  reply.removeHeader("connection");
  // Node's request timeout no longer applies once the answer is sent: a client that stops sending
  // would hold the connection for ever.
  const socket = raw.socket;
  const timer = setTimeout(() => socket.destroy(), MAX_DRAIN_MS);
  timer.unref();
  const stop = () => clearTimeout(timer);
  raw.once("end", stop);
  socket.once("close", stop);
}

/**
 * The app's error handler: HttpErrors, DomainErrors (status by kind) and client errors keep their
 * message; validation names the fields; anything else is a 5xx whose detail is generic (the real
 * error goes to the log only).
 */
export function handleError(
  error: FastifyError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (error instanceof HttpError) {
    if (error instanceof UnauthorizedError) {
      const challenge = error.bearerError
        ? `Bearer realm="dbplane", error="${error.bearerError}"`
        : `Bearer realm="dbplane"`;
      reply.header("WWW-Authenticate", challenge);
    }
    if (error instanceof ForbiddenError) {
      // A scope holds a path parameter: only RFC 6750's scope-token characters go into a header.
      const scope = SCOPE_TOKEN.test(error.scope) ? `, scope="${error.scope}"` : "";
      reply.header("WWW-Authenticate", `Bearer realm="dbplane", error="insufficient_scope"${scope}`);
    }
    request.log.info({ code: error.code, status: error.status }, error.message);
    const extra = {
      code: error.code,
      ...(error.errors && { errors: error.errors }),
      ...(error instanceof ForbiddenError && { scope: error.scope }),
    };
    return sendProblem(reply, problem(request, error.status, error.message, extra));
  }
  if (error instanceof DomainError) return sendProblem(reply, domainProblem(error, request));
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const errors = fieldErrors(fastifyError);
    const detail = `Invalid request: ${errors.map((e) => e.field).join(", ")}`;
    request.log.info({ errors }, detail);
    return sendProblem(reply, problem(request, 400, detail, { code: "VALIDATION_FAILED", errors }));
  }
  const status = fastifyError.statusCode ?? 500;
  // Only fastify's own client errors (bad JSON, wrong content type, body too large) keep their
  // message: a dependency's error that happens to carry a 4xx statusCode is still our failure.
  if (status >= 400 && status < 500 && fastifyError.code?.startsWith("FST_")) {
    request.log.info({ code: fastifyError.code, status }, error.message);
    if (fastifyError.code === "FST_ERR_CTP_BODY_TOO_LARGE") drainUnreadBody(request, reply);
    return sendProblem(reply, problem(request, status, error.message, { code: fastifyError.code }));
  }
  const unavailable = unavailableDependency(error);
  if (unavailable) {
    // Out of connections, shutting down, unreachable: nothing was done, and a retry later can work.
    request.log.warn({ err: error, reason: unavailable }, "request failed: a dependency is unavailable");
    reply.header("Retry-After", "1");
    return sendProblem(
      reply,
      problem(request, 503, GENERIC_DETAIL[503] ?? INTERNAL_DETAIL, {
        code: "DEPENDENCY_UNAVAILABLE",
        requestId: request.id,
      }),
    );
  }
  const serverStatus = status >= 500 && status < 600 ? status : 500;
  request.log.error({ err: error }, "request failed");
  const detail = GENERIC_DETAIL[serverStatus] ?? INTERNAL_DETAIL;
  return sendProblem(reply, problem(request, serverStatus, detail, { requestId: request.id }));
}

/**
 * Why a request failed on a dependency that is unavailable for now rather than on a fault of its
 * own, or undefined: PostgreSQL out of connections or resources (SQLSTATE class 53), shutting
 * down or not yet accepting connections (57P01–57P03), a broken connection (class 08), or a
 * refused TCP connection. Such a request changed nothing; it is a 503, not a 500.
 */
export function unavailableDependency(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return undefined;
  if (code === "ECONNREFUSED") return "connection refused";
  if (!/^[0-9A-Z]{5}$/.test(code)) return undefined;
  if (code.startsWith("53")) return `PostgreSQL ${code}: insufficient resources`;
  if (code === "57P01" || code === "57P02" || code === "57P03")
    return `PostgreSQL ${code}: shutting down or starting`;
  if (code.startsWith("08")) return `PostgreSQL ${code}: connection failure`;
  return undefined;
}

/** Unknown routes answer a problem too, so clients parse one error shape everywhere. */
export function handleNotFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendProblem(
    reply,
    problem(request, 404, `No route ${request.method} ${request.url.split("?")[0]}`, {
      code: "ROUTE_NOT_FOUND",
    }),
  );
}
