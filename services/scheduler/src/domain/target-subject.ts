import { JobLimits } from "./limits.ts";

/**
 * Why a subject cannot be a job's target, or `null` when it can.
 *
 * A target is one concrete subject a JetStream stream captures: wildcards would publish to a
 * literal `*` token (or fail), empty tokens are invalid in NATS, and the `$…` spaces (`$JS.`,
 * `$KV.`, `$O.`, `$SYS.`), `_INBOX.`/`_INBOX_<service>.` and the dead letters `dbplane.dlq.` belong to the server and to request/reply — publishing
 * into them from a schedule is either an API call in disguise or a reply to nobody.
 */
export function subjectProblem(subject: string): string | null {
  if (subject.length === 0) return "must not be empty";
  if (subject.length > JobLimits.maxSubjectLength) {
    return `must be at most ${JobLimits.maxSubjectLength} characters`;
  }
  // Printable ASCII without space: NATS tokens are split on whitespace in the protocol.
  if (!/^[\x21-\x7e]+$/.test(subject)) return "must be printable ASCII without spaces";
  if (/[*>]/.test(subject)) return "must be a concrete subject: no wildcards ('*' or '>')";
  if (subject.split(".").some((token) => token.length === 0)) {
    return "must not have empty tokens (leading, trailing or double '.')";
  }
  if (subject.startsWith("$")) return "must not be in a system space ($JS, $KV, $O, $SYS, …)";
  // `_INBOX.` and the services' own `_INBOX_<service>.` prefixes: replies to someone else's request.
  if (/^_INBOX(?:$|[._])/.test(subject)) return "must not be in an _INBOX space";
  // Dead letters are the bus's record of what failed: a forged one would mislead whoever reads them.
  if (/(?:^|\.)dbplane\.dlq(?:\.|$)/.test(subject))
    return "must not be a dead-letter subject (dbplane.dlq.…)";
  return null;
}

/**
 * Why a header name cannot be set on a job's message, or `null` when it can. `Nats-*` headers
 * steer JetStream (`Nats-Msg-Id` is the scheduler's dedup id, `Nats-Expected-*` would make
 * publishes fail) and `ce-*` are the CloudEvents attributes the scheduler writes itself.
 */
export function headerNameProblem(name: string): string | null {
  // RFC 9110 token characters; NATS headers follow HTTP/1 syntax.
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$/.test(name))
    return "must be an HTTP header token (1–128 characters)";
  const lower = name.toLowerCase();
  if (lower.startsWith("nats-")) return "must not start with 'Nats-' (reserved for JetStream)";
  if (lower.startsWith("ce-"))
    return "must not start with 'ce-' (the scheduler sets the CloudEvents attributes)";
  return null;
}
