import { findMessageBySubject, InvalidMessageDataError, parseMessageData } from "@dbplane/contracts";
import type { JetStreamManager } from "@nats-io/jetstream";
import { destinationProblem } from "../delivery/webhook-destination.ts";
import type { JobDefinition } from "../domain/job-definition.ts";
import { JobValidationError } from "../domain/job-validation.ts";
import { TargetKind } from "../domain/limits.ts";
import type { TargetNamespace } from "../domain/target-namespace.ts";
import type { WebhookAllowList } from "../domain/webhook-allow-list.ts";

/** How long a positive answer is trusted: registering thousands of jobs on one subject costs one lookup. */
const CACHE_MS = 5_000;

/**
 * Checks, when a job is saved, that its target can be published exactly once:
 *
 * - a JetStream stream captures the subject, so every publish is acknowledged and deduplicated
 *   by `Nats-Msg-Id` (a core-NATS subject would lose occurrences silently);
 * - that stream's duplicate window outlasts a claim lease plus a claim tick, so an occurrence a
 *   dead replica already published and a survivor re-fires is recognised as a duplicate;
 * - a target that is a dbplane command or event (e.g. `dbplane.cmd.provisioner.run-backup`) has
 *   a payload its contract accepts, because it is published as that CloudEvent. dbplane's own
 *   streams are allowed — scheduling other services' periodic work is the point — to tokens
 *   holding `admin`, and to a service for what it may publish itself (JobAdmin checks when a job
 *   is saved, the firing loop before each publish).
 *
 * Both look at the subject as published: the contract by the logical subject, the stream by the
 * wire subject inside this installation's namespace (`<ns>.<subject>`), the same resolution the
 * firing loop publishes with.
 *
 * An http target's URL must lead to an address the webhook allow-list accepts (see
 * `destinationProblem`); every attempt checks again as it connects.
 *
 * @throws JobValidationError naming `target.subject`, `target.payload` or `target.url`.
 */
export function createTargetCheck(
  jsm: JetStreamManager,
  minDuplicateWindowMs: number,
  allowList: WebhookAllowList,
  namespace: TargetNamespace,
) {
  const known = new Map<string, number>();
  return async function checkTarget(job: JobDefinition): Promise<void> {
    if (job.target.kind === TargetKind.http) {
      const problem = await destinationProblem(allowList, new URL(job.target.url));
      if (problem)
        throw new JobValidationError([{ field: "target.url", message: `is not allowed: ${problem}` }]);
      return;
    }
    const { payload } = job.target;
    const resolved = namespace.resolve(job.target.subject);
    if ("problem" in resolved) {
      throw new JobValidationError([{ field: "target.subject", message: resolved.problem }]);
    }
    const { logical, wire: subject } = resolved;
    const def = findMessageBySubject(logical);
    if (def) {
      try {
        parseMessageData(def, payload);
      } catch (err) {
        if (!(err instanceof InvalidMessageDataError)) throw err;
        throw new JobValidationError(
          err.issues.map((i) => ({
            field: i.path ? `target.payload.${i.path}` : "target.payload",
            message: `${i.message} (the payload of ${def.type})`,
          })),
          { cause: err },
        );
      }
    }
    if ((known.get(subject) ?? 0) > Date.now()) return;
    const stream = await streamCapturing(jsm, subject);
    if (!stream) {
      throw new JobValidationError([
        {
          field: "target.subject",
          message: `no JetStream stream captures "${subject}": create one first, so every occurrence is stored and deduplicated`,
        },
      ]);
    }
    const info = await jsm.streams.info(stream);
    const windowMs = Math.floor((info.config.duplicate_window ?? 0) / 1e6);
    if (windowMs < minDuplicateWindowMs) {
      throw new JobValidationError([
        {
          field: "target.subject",
          message: `stream ${stream} keeps message ids for ${windowMs} ms; at least ${minDuplicateWindowMs} ms (the scheduler's lease plus a tick) is needed to deduplicate a re-fire`,
        },
      ]);
    }
    known.set(subject, Date.now() + CACHE_MS);
  };
}

export type TargetCheck = ReturnType<typeof createTargetCheck>;

async function streamCapturing(jsm: JetStreamManager, subject: string): Promise<string | null> {
  // `$JS.API.STREAM.NAMES` with a subject filter; streams cannot overlap, so at most one matches.
  for await (const name of jsm.streams.names(subject)) return name;
  return null;
}
