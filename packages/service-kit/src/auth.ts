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
  // A hit answers synchronously: no promise, no microtask on the hot path.
  return (token: string): Principal | Promise<Principal> => {
    const hit = verified.get(token);
    if (hit) {
      const nowSeconds = Date.now() / 1000;
      if (hit.exp > nowSeconds && (hit.nbf === undefined || hit.nbf <= nowSeconds)) return hit;
      verified.delete(token);
    }
    return verify(token).then((principal) => {
      if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
      verified.set(token, principal);
      return principal;
    });
  };
}

const BEARER_PREFIX = "Bearer ";

function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  if (!header) throw new UnauthorizedError("this operation needs an Authorization: Bearer token");
  // The usual header, `Bearer <token>` with nothing around it, without the regex below.
  if (header.startsWith(BEARER_PREFIX) && header.length > BEARER_PREFIX.length) {
    const token = header.slice(BEARER_PREFIX.length);
    if (!/[ \t\n\r]/.test(token) && token.charCodeAt(0) > 32) return token;
  }
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
 * {@link routeScope}), sets `request.principal` or fails with 401 (no or bad token) or 403 (the
 * token lacks the scope, which the problem names), all before the body is even parsed. Callback
 * form: a token verified before is checked without a promise.
 */
export function createBearerAuth(
  policy: TokenPolicy,
): (request: FastifyRequest, reply: unknown, done: (err?: Error) => void) => void {
  const verify = verifiedTokenCache(tokenVerifier(policy));
  const authorize = (request: FastifyRequest, template: string, principal: Principal): void => {
    request.principal = principal;
    const needed = resolveScope(template, request.params);
    if (!grants(principal.scopes, needed)) {
      throw new ForbiddenError(`this operation needs the scope "${needed}"`, { scope: needed });
    }
  };
  return (request, _reply, done) => {
    let template: string;
    let principal: Principal | Promise<Principal>;
    try {
      if (request.is404) return done();
      const { method, url = "", config } = request.routeOptions;
      const scope = routeScope(method, url, config);
      if (scope === null) return done();
      if (scope === Scope.read && policy.anonymousRead === true) return done();
      template = scope;
      principal = verify(bearerToken(request));
      if (!(principal instanceof Promise)) {
        authorize(request, template, principal);
        return done();
      }
    } catch (err) {
      return done(err as Error);
    }
    principal.then(
      (verified) => {
        try {
          authorize(request, template, verified);
        } catch (err) {
          return done(err as Error);
        }
        done();
      },
      (err: Error) => done(err),
    );
  };
}
