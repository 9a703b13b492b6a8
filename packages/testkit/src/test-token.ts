import { createHmac } from "node:crypto";

export interface TestTokenOptions {
  /** Default "test". */
  readonly sub?: string;
  /** Seconds from now; negative makes an already expired token. Default one hour. */
  readonly expiresIn?: number;
  readonly claims?: Readonly<Record<string, unknown>>;
}

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

/**
 * An HS256 JWT the services accept (service-kit's `verifyToken`: signature, `exp`, `sub`).
 * Signed here with node:crypto, not with service-kit's `signToken`: service-kit's own tests
 * depend on testkit, and a synchronous token reads better in specs.
 */
export function signTestToken(secret: string, options: TestTokenOptions = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    ...options.claims,
    sub: options.sub ?? "test",
    iat: now,
    exp: now + (options.expiresIn ?? 3600),
  };
  const unsigned = `${base64url({ alg: "HS256", typ: "JWT" })}.${base64url(payload)}`;
  return `${unsigned}.${createHmac("sha256", secret).update(unsigned).digest("base64url")}`;
}
