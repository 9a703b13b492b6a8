import { createPublicKey, type KeyObject, randomBytes } from "node:crypto";
import {
  createRemoteJWKSet,
  type JWTPayload,
  type JWTVerifyGetKey,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
} from "jose";
import { UnauthorizedError } from "./errors.ts";
import { scopesOfClaim } from "./scopes.ts";

/** Who made a request: the verified JWT claims (`sub` and `exp` always present) and its scopes. */
export interface Principal extends JWTPayload {
  readonly sub: string;
  readonly exp: number;
  /** The `scope` claim, split; empty when the token has none. */
  readonly scopes: readonly string[];
}

const HS256 = "HS256";
/** What an identity provider's keys may sign with; the key's own type narrows it further. */
const ASYMMETRIC_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA", "Ed25519"] as const;

function keyOf(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

export interface SignTokenOptions {
  readonly sub: string;
  /** Lifetime: seconds from now (negative makes an already expired token) or a jose span like "1h". */
  readonly expiresIn?: number | string;
  /** The `scope` claim, e.g. `["db:shop:query", "read"]`; none when absent. */
  readonly scopes?: readonly string[];
  readonly issuer?: string;
  readonly audience?: string;
  readonly claims?: Readonly<Record<string, unknown>>;
}

/**
 * The configured bearer-token key, or a fresh random one (256 bits, base64url) for a service
 * whose routes only read (`readOnlyAuthEnv`): without a key of ours no HS256 token can be valid
 * there (tokens of an identity provider still can, and anonymous read when enabled).
 */
export function jwtSecretOrRandom(configured: string | undefined): string {
  return configured ?? randomBytes(32).toString("base64url");
}

/** Signs an HS256 JWT the services accept; for the dev stack, `scripts/dbplane-token` and tests. */
export async function signToken(secret: string, options: SignTokenOptions): Promise<string> {
  const expiresIn = options.expiresIn ?? "1h";
  const exp = typeof expiresIn === "number" ? Math.floor(Date.now() / 1000) + expiresIn : expiresIn;
  const jwt = new SignJWT({
    ...options.claims,
    ...(options.scopes !== undefined && { scope: options.scopes.join(" ") }),
  })
    .setProtectedHeader({ alg: HS256, typ: "JWT" })
    .setSubject(options.sub)
    .setIssuedAt()
    .setExpirationTime(exp);
  if (options.issuer !== undefined) jwt.setIssuer(options.issuer);
  if (options.audience !== undefined) jwt.setAudience(options.audience);
  return jwt.sign(keyOf(secret));
}

/** How bearer tokens are verified and which requests need one. */
export interface TokenPolicy {
  /** HS256 key (the services' shared secret). */
  readonly secret: string | Uint8Array;
  /** Required `iss` when set. */
  readonly issuer?: string | undefined;
  /** Required `aud` (one of them) when set. */
  readonly audience?: string | readonly string[] | undefined;
  /** An identity provider's JWKS: RS256/PS256/ES256/EdDSA tokens verify against its keys. */
  readonly jwksUrl?: string | undefined;
  /** Or one PEM public key (SPKI) of an identity provider; RSA, EC P-256 or Ed25519. */
  readonly publicKey?: string | undefined;
  /** GETs need no token (`DBPLANE_ANONYMOUS_READ`; the dev stack's default only). */
  readonly anonymousRead?: boolean | undefined;
}

/** The signature key of a token by its header: the shared secret for HS256, else the provider's. */
function keyResolver(policy: TokenPolicy): { key: JWTVerifyGetKey; algorithms: string[] } {
  const secret = typeof policy.secret === "string" ? keyOf(policy.secret) : policy.secret;
  if (policy.jwksUrl !== undefined && policy.publicKey !== undefined) {
    throw new RangeError("set either a JWKS URL or a public key for bearer tokens, not both");
  }
  let asymmetric: JWTVerifyGetKey | undefined;
  if (policy.jwksUrl !== undefined) asymmetric = createRemoteJWKSet(new URL(policy.jwksUrl));
  if (policy.publicKey !== undefined) {
    const publicKey: KeyObject = createPublicKey(policy.publicKey);
    asymmetric = () => publicKey;
  }
  const algorithms = asymmetric ? [HS256, ...ASYMMETRIC_ALGORITHMS] : [HS256];
  return {
    algorithms,
    key: (header, token) => {
      if (header.alg === HS256 || !asymmetric) return secret;
      return asymmetric(header, token);
    },
  };
}

/**
 * A verifier of bearer tokens under `policy`: signature (HS256 with the shared secret, or an
 * identity provider's asymmetric key), `exp` required and `nbf` honoured, `sub` required, `iss`
 * and `aud` when configured. Any other algorithm (`none` included) is refused. The promise
 * rejects with {@link UnauthorizedError}.
 */
export function tokenVerifier(policy: TokenPolicy): (token: string) => Promise<Principal> {
  const { key, algorithms } = keyResolver(policy);
  const options = {
    algorithms,
    requiredClaims: ["sub", "exp"],
    ...(policy.issuer !== undefined && { issuer: policy.issuer }),
    ...(policy.audience !== undefined && { audience: policy.audience as string | string[] }),
  };
  return async (token) => {
    try {
      const { payload } = await jwtVerify(token, key, options);
      return { ...payload, scopes: scopesOfClaim(payload.scope) } as Principal;
    } catch (err) {
      // The client learns expired vs invalid, never which check failed or why.
      const message =
        err instanceof joseErrors.JWTExpired ? "bearer token has expired" : "bearer token is invalid";
      throw new UnauthorizedError(message, { cause: err, bearerError: "invalid_token" });
    }
  };
}

/** Verifies an HS256 token with `secret` (see {@link tokenVerifier}). */
export function verifyToken(secret: string | Uint8Array, token: string): Promise<Principal> {
  return tokenVerifier({ secret })(token);
}
