import { randomBytes } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { type JWTPayload, errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { UnauthorizedError } from "./errors.ts";

/** Who made a request: the verified JWT claims; `sub` is always present. */
export interface Principal extends JWTPayload {
  readonly sub: string;
}

const ALGORITHM = "HS256";
const MUTATING_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

function keyOf(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

export interface SignTokenOptions {
  readonly sub: string;
  /** Lifetime: seconds from now (negative makes an already expired token) or a jose span like "1h". */
  readonly expiresIn?: number | string;
  readonly claims?: Readonly<Record<string, unknown>>;
}

/**
 * The configured bearer-token key, or a fresh random one (256 bits, base64url) for a service
 * whose routes only read (`readOnlyAuthEnv`): without a key of ours no token can be valid there,
 * and none is needed.
 */
export function jwtSecretOrRandom(configured: string | undefined): string {
  return configured ?? randomBytes(32).toString("base64url");
}

/** Signs an HS256 JWT the services accept; for the dev stack, the CLI and tests. */
export async function signToken(secret: string, options: SignTokenOptions): Promise<string> {
  const expiresIn = options.expiresIn ?? "1h";
  const exp = typeof expiresIn === "number" ? Math.floor(Date.now() / 1000) + expiresIn : expiresIn;
  return new SignJWT({ ...options.claims })
    .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
    .setSubject(options.sub)
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(keyOf(secret));
}

/**
 * Verifies an HS256 token: signature, `exp`/`nbf` when present, `sub` required. Any other
 * algorithm (`none` included) is refused. Throws {@link UnauthorizedError}.
 */
export async function verifyToken(secret: string | Uint8Array, token: string): Promise<Principal> {
  const key = typeof secret === "string" ? keyOf(secret) : secret;
  try {
    const { payload } = await jwtVerify(token, key, { algorithms: [ALGORITHM], requiredClaims: ["sub"] });
    return payload as Principal;
  } catch (err) {
    // The client learns expired vs invalid, never which check failed or why.
    const message =
      err instanceof joseErrors.JWTExpired ? "bearer token has expired" : "bearer token is invalid";
    throw new UnauthorizedError(message, { cause: err, bearerError: "invalid_token" });
  }
}

/** Whether a request must carry a bearer token: mutating methods on routes not marked public. */
export function requiresAuth(
  method: string | readonly string[],
  config: { public?: boolean } | undefined,
): boolean {
  const methods = typeof method === "string" ? [method] : method;
  return methods.some((m) => MUTATING_METHODS.has(m.toUpperCase())) && config?.public !== true;
}

/** Verified tokens kept per app; a client reuses one token for many requests. */
const VERIFIED_CACHE_SIZE = 1024;

/**
 * Remembers tokens that verified, until their `exp`: an HS256 check costs ~100 µs of CPU per
 * request, which is most of the router's per-query overhead (measured in bench/router). Only
 * the exact token string that passed verification with this key is ever a hit.
 */
function verifiedTokenCache(key: Uint8Array) {
  const verified = new Map<string, Principal>();
  return async (token: string): Promise<Principal> => {
    const hit = verified.get(token);
    const nowSeconds = Date.now() / 1000;
    if (
      hit &&
      (hit.exp === undefined || hit.exp > nowSeconds) &&
      (hit.nbf === undefined || hit.nbf <= nowSeconds)
    ) {
      return hit;
    }
    verified.delete(token);
    const principal = await verifyToken(key, token);
    if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
    verified.set(token, principal);
    return principal;
  };
}

/** onRequest hook body: sets `request.principal` or throws 401 before the body is even parsed. */
export function createBearerAuth(secret: string): (request: FastifyRequest) => Promise<void> {
  const verify = verifiedTokenCache(keyOf(secret));
  return async (request) => {
    if (request.is404 || !requiresAuth(request.method, request.routeOptions.config)) return;
    const header = request.headers.authorization;
    if (!header) throw new UnauthorizedError("this operation needs an Authorization: Bearer token");
    const match = /^Bearer +([^ ]+)$/i.exec(header.trim());
    if (!match?.[1]) {
      throw new UnauthorizedError("the Authorization header must be 'Bearer <token>'", {
        bearerError: "invalid_request",
      });
    }
    request.principal = await verify(match[1]);
  };
}
