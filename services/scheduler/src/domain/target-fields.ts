import { z } from "zod";
import { JobLimits } from "./limits.ts";

/** Plain JSON only: no class instances, no NaN, bounded depth (a payload is stored and sent as is). */
function isJsonValue(value: unknown, depth = 0): boolean {
  if (depth > 64) return false;
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((v) => isJsonValue(v, depth + 1));
  if (typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.values(value).every((v) => isJsonValue(v, depth + 1));
}

/** A JSON value of at most `JobLimits.maxPayloadBytes`: a NATS payload or a webhook body. */
export const jsonPayload = z
  .custom<unknown>((v) => v !== undefined && isJsonValue(v), "must be a JSON value")
  .refine(
    (v) => Buffer.byteLength(JSON.stringify(v)) <= JobLimits.maxPayloadBytes,
    `must be at most ${JobLimits.maxPayloadBytes} bytes as JSON`,
  );

/**
 * Extra headers of a target, by name; `nameProblem` says which names the target kind refuses
 * (those the scheduler sets itself). Values are single lines: a line break would smuggle a header.
 */
export function headerRecord(nameProblem: (name: string) => string | null) {
  return z.record(z.string(), z.string().max(JobLimits.maxHeaderValueLength)).superRefine((record, ctx) => {
    const names = Object.keys(record);
    if (names.length > JobLimits.maxHeaders) {
      ctx.addIssue({ code: "custom", message: `must have at most ${JobLimits.maxHeaders} headers` });
    }
    for (const name of names) {
      const problem = nameProblem(name);
      if (problem) ctx.addIssue({ code: "custom", path: [name], message: problem });
      if (/[\r\n]/.test(record[name] ?? ""))
        ctx.addIssue({ code: "custom", path: [name], message: "must not contain line breaks" });
    }
  });
}
