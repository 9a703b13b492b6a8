import type { FastifyRequest } from "fastify";
import { type Principal, type TokenPolicy, tokenVerifier } from "./bearer-tokens.ts";
import { ForbiddenError, UnauthorizedError } from "./errors.ts";
import { grants, resolveScope, Scope } from "./scopes.ts";

const MUTATING_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** What a route declares in its `config`. */
export interface RouteAuthConfig {
  readonly public?: boolean;
  readonly scope?: string;
}

/**
 * The scope template a route needs, or `null` for a public one: its declared `config.scope`
 * (`db:{db}:query` names the path parameter `db`); else `admin` for a mutating route, so one
 * that forgot to declare is closed rather than open; else `read` for a `/v1` GET. Routes outside
 * `/v1` that only read (health, metrics, docs) and routes marked `public` need nothing.
 */
export function routeScope(
  method: string | readonly string[],
  url: string,
  config: RouteAuthConfig | undefined,
): string | null {
  if (config?.public === true) return null;
  if (config?.scope !== undefined) return config.scope;
  const methods = typeof method === "string" ? [method] : method;
  if (methods.some((m) => MUTATING_METHODS.has(m.toUpperCase()))) return Scope.admin;
  return url.startsWith("/v1/") || url === "/v1" ? Scope.read : null;
}

/** Verified tokens kept per app; a client reuses one token for many requests. */
const VERIFIED_CACHE_SIZE = 1024;

/**
 * Remembers tokens that verified, until their `exp`: an HS256 check costs ~100 µs of CPU per
 * request, which is most of the router's per-query overhead (measured in bench/router). Only
 * the exact token string that passed verification under this policy is ever a hit.
 */
function verifiedTokenCache(verify: (token: string) => Promise<Principal>) {
  const verified = new Map<string, Principal>();
  return async (token: string): Promise<Principal> => {
    const hit = verified.get(token);
    const nowSeconds = Date.now() / 1000;
    if (hit && hit.exp > nowSeconds && (hit.nbf === undefined || hit.nbf <= nowSeconds)) return hit;
    verified.delete(token);
    const principal = await verify(token);
    if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
    verified.set(token, principal);
    return principal;
  };
}

function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  if (!header) throw new UnauthorizedError("this operation needs an Authorization: Bearer token");
  const match = /^Bearer +([^ ]+)$/i.exec(header.trim());
  if (!match?.[1]) {
    throw new UnauthorizedError("the Authorization header must be 'Bearer <token>'", {
      bearerError: "invalid_request",
    });
  }
  return match[1];
}

/**
 * onRequest hook body, the one place scopes are checked: for a route that needs a scope (see
 * {@link routeScope}), sets `request.principal` or throws 401 (no or bad token) or 403 (the
 * token lacks the scope, which the problem names), all before the body is even parsed.
 */
export function createBearerAuth(policy: TokenPolicy): (request: FastifyRequest) => Promise<void> {
  const verify = verifiedTokenCache(tokenVerifier(policy));
  return async (request) => {
    if (request.is404) return;
    const { method, url = "", config } = request.routeOptions;
    const template = routeScope(method, url, config);
    if (template === null) return;
    if (template === Scope.read && policy.anonymousRead === true) return;
    const principal = await verify(bearerToken(request));
    request.principal = principal;
    const needed = resolveScope(template, request.params);
    if (!grants(principal.scopes, needed)) {
      throw new ForbiddenError(`this operation needs the scope "${needed}"`, { scope: needed });
    }
  };
}
