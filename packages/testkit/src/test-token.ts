import { createHmac } from "node:crypto";

export interface TestTokenOptions {
  /** Default "test". */
  readonly sub?: string;
  /**
   * Seconds from now; negative makes an already expired token; `null` leaves `exp` out (a token
   * the services refuse). Default one hour.
   */
  readonly expiresIn?: number | null;
  /** The `scope` claim; default `["admin"]`, which may do everything. */
  readonly scopes?: readonly string[];
  /** Added to the payload (`iss`, `aud`, …); `sub`, `iat`, `exp` and `scope` are set after them. */
  readonly claims?: Readonly<Record<string, unknown>>;
}

/** What the tests of every service sign unless told otherwise: the scope that may do everything. */
export const DEFAULT_TEST_SCOPES: readonly string[] = ["admin"];

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

/**
 * An HS256 JWT the services accept (service-kit's `verifyToken`: signature, `exp`, `sub`, and the
 * route's scope in `scope`). Signed here with node:crypto, not with service-kit's `signToken`:
 * service-kit's own tests depend on testkit, and a synchronous token reads better in specs.
 */
export function signTestToken(secret: string, options: TestTokenOptions = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const expiresIn = options.expiresIn === undefined ? 3600 : options.expiresIn;
  const payload = {
    ...options.claims,
    sub: options.sub ?? "test",
    scope: (options.scopes ?? DEFAULT_TEST_SCOPES).join(" "),
    iat: now,
    ...(expiresIn !== null && { exp: now + expiresIn }),
  };
  const unsigned = `${base64url({ alg: "HS256", typ: "JWT" })}.${base64url(payload)}`;
  return `${unsigned}.${createHmac("sha256", secret).update(unsigned).digest("base64url")}`;
}
