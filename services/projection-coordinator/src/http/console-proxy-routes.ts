import { type HttpApp, HttpError, UnauthorizedError } from "@dbplane/service-kit";
import { z } from "zod";

/** The services the console reaches through this origin, and their base URLs. */
export type ConsoleUpstreams = Readonly<Record<ConsoleService, string>>;
export const CONSOLE_SERVICES = ["discovery", "provisioner", "router", "scheduler", "collector"] as const;
type ConsoleService = (typeof CONSOLE_SERVICES)[number];

/** Longer than any of the services' own request timeouts: they answer first, with their problem. */
const UPSTREAM_TIMEOUT_MS = 30_000;
/** Headers passed on each way; nothing else (no cookies, no hop-by-hop headers). */
const REQUEST_HEADERS = ["authorization", "content-type", "accept", "if-match", "x-request-id"];
const RESPONSE_HEADERS = ["content-type", "location", "etag", "www-authenticate", "retry-after"];

const proxyParams = z.object({
  service: z.enum(CONSOLE_SERVICES).describe("The service whose /v1 API is called"),
  "*": z
    .string()
    .max(2_000)
    .regex(/^[A-Za-z0-9._~:@%-]+(\/[A-Za-z0-9._~:@%-]+)*$/, "must be a path below /v1/ without '..'")
    .refine((p) => !p.split("/").some((s) => s === ".." || s === "."), "must not contain '.' or '..'")
    .describe("The path below the service's /v1/"),
});

class UpstreamUnavailableError extends HttpError {
  override readonly name = "UpstreamUnavailableError";
  constructor(service: string, options: { cause: unknown }) {
    super(502, "UPSTREAM_UNAVAILABLE", `the ${service} did not answer`, options);
  }
}

/**
 * `/console/api/<service>/<path>` → `<service URL>/v1/<path>`: the console's same-origin way to
 * the other services' public APIs (chosen over CORS so that the console's CSP can stay
 * `connect-src 'self'` and no service has to trust a browser origin). The caller's bearer token
 * travels unchanged; each service checks its own scopes. Reads need the `read` scope here too;
 * a mutating call without a token is refused here with 401 before it leaves.
 */
export function registerConsoleProxyRoutes(app: HttpApp, deps: { upstreams: ConsoleUpstreams }): void {
  app.route({
    method: ["GET", "POST", "DELETE"],
    url: "/console/api/:service/*",
    // Reads: `read`, as every /v1 GET. Writes: the service behind checks the token's scope
    // (jobs:write, db:<name>:admin, admin); a token is demanded below.
    config: { scope: "read" },
    schema: {
      summary: "Same-origin proxy for the console to the other services' /v1 APIs (token passed on)",
      tags: ["console"],
      params: proxyParams,
    },
    handler: async (request, reply) => {
      if (request.method !== "GET" && !request.headers.authorization)
        throw new UnauthorizedError("this operation needs an Authorization: Bearer token");
      const { service, "*": path } = request.params;
      const query = request.url.includes("?") ? request.url.slice(request.url.indexOf("?")) : "";
      const target = new URL(`/v1/${path}${query}`, deps.upstreams[service]);
      const headers = new Headers();
      for (const name of REQUEST_HEADERS) {
        const value = request.headers[name];
        if (typeof value === "string") headers.set(name, value);
      }
      const hasBody = request.method !== "GET" && request.body !== undefined;
      let response: Response;
      try {
        response = await fetch(target, {
          method: request.method,
          headers,
          ...(hasBody && { body: JSON.stringify(request.body) }),
          signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS),
          redirect: "manual",
        });
      } catch (cause) {
        throw new UpstreamUnavailableError(service, { cause });
      }
      reply.code(response.status);
      for (const name of RESPONSE_HEADERS) {
        const value = response.headers.get(name);
        if (value) reply.header(name, value);
      }
      const body = Buffer.from(await response.arrayBuffer());
      return reply.send(body);
    },
  });
}
