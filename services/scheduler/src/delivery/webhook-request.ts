import type { HttpTarget } from "../domain/job-definition.ts";
import { occurrenceMessageId } from "../domain/message-id.ts";
import { JOB_HEADERS, SCHEDULER_SOURCE } from "../firing/target-message.ts";

/** The CloudEvents type of every webhook request: an occurrence of a job fired. */
export const WEBHOOK_EVENT_TYPE = "dev.dbplane.scheduler.job.fired";

export interface WebhookRequest {
  readonly url: string;
  readonly method: HttpTarget["method"];
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
}

/**
 * The request every attempt of one occurrence sends: the job's headers and JSON body, plus
 * `Idempotency-Key: <jobId>:<scheduledAt>` — the same on every attempt and after a take-over,
 * so the receiver can drop repeats — and the CloudEvents HTTP binding's binary-mode attributes
 * (`ce-id` is the same key; `ce-time` is the occurrence's scheduled time, stable across retries).
 */
export function webhookRequest(jobId: string, target: HttpTarget, scheduledAt: Date): WebhookRequest {
  const key = occurrenceMessageId(jobId, scheduledAt);
  const headers: Record<string, string> = { ...target.headers };
  const body = target.body === undefined ? undefined : JSON.stringify(target.body);
  const typed = Object.keys(headers).some((name) => name.toLowerCase() === "content-type");
  if (body !== undefined && !typed) headers["content-type"] = "application/json";
  Object.assign(headers, {
    "idempotency-key": key,
    "ce-specversion": "1.0",
    "ce-id": key,
    "ce-type": WEBHOOK_EVENT_TYPE,
    "ce-source": SCHEDULER_SOURCE,
    "ce-time": scheduledAt.toISOString(),
    "ce-subject": jobId,
    [JOB_HEADERS.jobId]: jobId,
    [JOB_HEADERS.scheduledAt]: scheduledAt.toISOString(),
  });
  return { url: target.url, method: target.method, headers, body };
}

/** The URL without query or fragment (which may carry tokens): what logs and events show. */
export function safeUrl(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}
