import type { EncodedPublish } from "@dbplane/bus";
import { findMessageBySubject, toBinaryHeaders } from "@dbplane/contracts";
import { type MsgHdrs, MsgHdrsImpl } from "@nats-io/transport-node";
import type { NatsTarget } from "../domain/job-definition.ts";
import type { ResolvedSubject } from "../domain/target-namespace.ts";

/** Headers the scheduler adds to every target message. */
export const JOB_HEADERS = {
  jobId: "dbplane-job-id",
  scheduledAt: "dbplane-scheduled-at",
} as const;

/** The CloudEvents source of target messages that are dbplane commands or events. */
export const SCHEDULER_SOURCE = "dbplane/scheduler";

export interface TargetMessage {
  readonly subject: string;
  readonly payload: Uint8Array;
  readonly headers: MsgHdrs;
}

/** A NATS occurrence's message, encoded ahead, or why it may not be published (and its subject as saved). */
export type PreparedTarget =
  | { readonly message: EncodedPublish }
  | { readonly refusal: string; readonly subject: string };

const encoder = new TextEncoder();

/**
 * Headers encoded once: a target message is built when its occurrence is armed, up to the
 * horizon before it is due, and its publish (and any retry) sends the same bytes. Changing a
 * header drops the encoding.
 */
class EncodedOnceHeaders extends MsgHdrsImpl {
  #encoded: Uint8Array | undefined;
  override encode(): Uint8Array {
    this.#encoded ??= super.encode();
    return this.#encoded;
  }
  override append(...args: Parameters<MsgHdrsImpl["append"]>): void {
    this.#encoded = undefined;
    super.append(...args);
  }
  override delete(...args: Parameters<MsgHdrsImpl["delete"]>): void {
    this.#encoded = undefined;
    super.delete(...args);
  }
}

/** The headers as NATS sends them (a `MsgHdrs` is always nats.js's `MsgHdrsImpl`), encoded once. */
export function headerBytes(headers: MsgHdrs): Uint8Array {
  return (headers as MsgHdrsImpl).encode();
}

/** Whether the occurrence's message may be built before it fires (not a CloudEvent: its `time` is the firing's). */
export function buildsAhead(subject: ResolvedSubject): boolean {
  return findMessageBySubject(subject.logical) === undefined;
}

/**
 * The message one occurrence publishes, on the target's wire subject (inside the installation's
 * namespace, see `targetNamespace`): the job's payload as JSON and its headers, plus
 * `dbplane-job-id` and `dbplane-scheduled-at`. When the target subject is a dbplane command or
 * event (e.g. `dbplane.cmd.provisioner.run-backup` — other services schedule their periodic work
 * this way), the message is also a proper CloudEvent of that type, whose id is the occurrence id,
 * so the receiving service's bus accepts it; its payload was checked against the contract when
 * the job was saved. `Nats-Msg-Id` is the occurrence id: the target stream drops a re-fired
 * occurrence as a duplicate.
 */
export function targetMessage(
  jobId: string,
  target: NatsTarget,
  subject: ResolvedSubject,
  scheduledAt: Date,
  messageId: string,
): TargetMessage {
  const h = new EncodedOnceHeaders();
  for (const [name, value] of Object.entries(target.headers ?? {})) h.set(name, value);
  h.set(JOB_HEADERS.jobId, jobId);
  h.set(JOB_HEADERS.scheduledAt, scheduledAt.toISOString());
  h.set("Nats-Msg-Id", messageId);
  const def = findMessageBySubject(subject.logical);
  if (def) {
    const ce = toBinaryHeaders({
      id: messageId,
      type: def.type,
      source: SCHEDULER_SOURCE,
      subject: jobId,
      time: new Date().toISOString(),
      specversion: "1.0",
      datacontenttype: "application/json",
    });
    for (const [name, value] of Object.entries(ce)) h.set(name, value);
  }
  return {
    subject: subject.wire,
    payload: encoder.encode(JSON.stringify(target.payload ?? null)),
    headers: h,
  };
}
