import { performance } from "node:perf_hooks";
import { fetch } from "undici";
import type { AttemptResult } from "../domain/delivery-policy.ts";
import {
  addressProblem,
  hostAllowed,
  literalAddress,
  type WebhookAllowList,
} from "../domain/webhook-allow-list.ts";
import { WebhookAddressRefusedError, type WebhookAgents } from "./webhook-destination.ts";
import type { WebhookRequest } from "./webhook-request.ts";

export interface SentAttempt {
  readonly result: AttemptResult;
  /** From the start of the attempt to the response's status line (or the failure). */
  readonly durationMs: number;
}

/**
 * Makes one attempt: undici's fetch (the implementation behind Node's global fetch, whose own
 * copy takes no dispatcher of this version) through the allow-list's agents, bounded by
 * `timeoutMs` from the start until the response's status line, and by `stop` (the replica shutting
 * down). Redirects are not followed: the next hop could be an address the list refuses. The
 * response body is discarded unread. Never throws.
 */
export async function sendWebhook(
  request: WebhookRequest,
  options: { allowList: WebhookAllowList; agents: WebhookAgents; timeoutMs: number; stop: AbortSignal },
): Promise<SentAttempt> {
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const url = new URL(request.url);
  const vouched = hostAllowed(options.allowList, url);
  const literal = literalAddress(url);
  const refused = !vouched && literal ? addressProblem(options.allowList, literal) : null;
  if (refused) return { result: { kind: "refused", message: refused }, durationMs: elapsed() };
  const timeout = AbortSignal.timeout(options.timeoutMs);
  try {
    const response = await fetch(url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: "manual",
      signal: AbortSignal.any([timeout, options.stop]),
      dispatcher: vouched ? options.agents.open : options.agents.guarded,
    });
    const durationMs = elapsed();
    await response.body?.cancel().catch(() => undefined);
    return { result: { kind: "response", status: response.status }, durationMs };
  } catch (err) {
    const durationMs = elapsed();
    if (timeout.aborted) return { result: { kind: "timeout" }, durationMs };
    if (options.stop.aborted)
      return { result: { kind: "network", message: "aborted: the replica is stopping" }, durationMs };
    const cause = err instanceof Error ? err.cause : undefined;
    if (cause instanceof WebhookAddressRefusedError)
      return { result: { kind: "refused", message: cause.message }, durationMs };
    return { result: { kind: "network", message: networkMessage(err) }, durationMs };
  }
}

/** fetch's own message is "fetch failed"; the cause says what (ECONNREFUSED 127.0.0.1:9, …). */
function networkMessage(err: unknown): string {
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === "string" && !cause.message.includes(code)
      ? `${code}: ${cause.message}`
      : cause.message;
  }
  return err instanceof Error ? err.message : String(err);
}
