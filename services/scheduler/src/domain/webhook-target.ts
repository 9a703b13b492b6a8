import { z } from "zod";
import { OverlapPolicy, TargetKind, WebhookLimits } from "./limits.ts";
import { headerRecord, jsonPayload } from "./target-fields.ts";

/**
 * Why a header name cannot be set on a webhook request, or `null` when it can. The scheduler
 * writes `Idempotency-Key` and the CloudEvents `ce-*` attributes on every attempt (a job that
 * overrode them would break deduplication at the receiver); the framing headers belong to the
 * HTTP client.
 */
export function httpHeaderNameProblem(name: string): string | null {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$/.test(name))
    return "must be an HTTP header token (1–128 characters)";
  const lower = name.toLowerCase();
  if (lower.startsWith("ce-"))
    return "must not start with 'ce-' (the scheduler sets the CloudEvents attributes)";
  if (["idempotency-key", "host", "content-length", "transfer-encoding", "connection"].includes(lower))
    return `must not be ${name}: the scheduler sets it`;
  return null;
}

/** Why a webhook URL is refused on its form, or `null`. Whether its address is allowed is checked apart. */
export function webhookUrlProblem(text: string): string | null {
  if (text.length > WebhookLimits.maxUrlLength)
    return `must be at most ${WebhookLimits.maxUrlLength} characters`;
  if (!URL.canParse(text)) return "must be an absolute http or https URL";
  const url = new URL(text);
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "")
    return "must be an absolute http or https URL";
  // The URL is shown in the job's definition and in logs; a credential belongs in a header.
  if (url.username !== "" || url.password !== "") return "must not carry credentials: put them in headers";
  return null;
}

export const httpTarget = z
  .strictObject({
    kind: z.literal(TargetKind.http),
    url: z.string().superRefine((u, ctx) => {
      const problem = webhookUrlProblem(u);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
    method: z.enum(["POST", "GET", "PUT", "PATCH", "DELETE"]).default("POST"),
    headers: headerRecord(httpHeaderNameProblem).optional(),
    body: jsonPayload.optional(),
    timeoutMs: z
      .number()
      .int()
      .min(WebhookLimits.minTimeoutMs)
      .max(WebhookLimits.maxTimeoutMs)
      .default(WebhookLimits.defaultTimeoutMs),
    maxAttempts: z
      .number()
      .int()
      .min(1)
      .max(WebhookLimits.maxAttempts)
      .default(WebhookLimits.defaultMaxAttempts),
    overlap: z
      .enum([OverlapPolicy.skip, OverlapPolicy.bufferOne, OverlapPolicy.allowAll])
      .default(OverlapPolicy.allowAll),
  })
  // fetch (and most servers) refuse a GET with a body; say so at creation, not at every attempt.
  .refine((t) => t.method !== "GET" || t.body === undefined, {
    path: ["body"],
    message: "must be absent for GET",
  });
