import { grants, Scope } from "@dbplane/service-kit";
import { TargetKind } from "./limits.ts";
import { isServiceOwnerId, serviceOfOwner, serviceTargetProblem } from "./service-targets.ts";

/**
 * dbplane's own commands and events, with or without a namespace token in front: a job that
 * publishes there speaks for the platform (delete a database, forge `database.ready`), so only
 * `admin` may schedule one, and it fires only while its owner's recorded scopes grant `admin`.
 */
const PLATFORM_SUBJECT = /^(?:[a-z][a-z0-9_]*\.)?dbplane\.(?:cmd|evt)\./;

/** A target as the privilege rules see it: for NATS, the subject without the namespace. */
export interface TargetOfOwner {
  readonly kind: string;
  readonly subject?: string;
}

/** Whether a job with this target needs the `admin` scope. */
export function isPlatformTarget(target: TargetOfOwner): boolean {
  return target.kind === TargetKind.nats && PLATFORM_SUBJECT.test(target.subject ?? "");
}

/**
 * Why an owner holding `scopes` may not have a job with this target, or `null` when they may:
 * the scope a platform target needs is named, so a 403 or a failed run says what is missing.
 */
export function targetScopeProblem(target: TargetOfOwner, scopes: readonly string[]): string | null {
  if (!isPlatformTarget(target) || grants(scopes, Scope.admin)) return null;
  return `the target ${JSON.stringify(target.subject)} is a dbplane command or event: it needs the scope "admin"`;
}

/**
 * Why this owner may not have a job with this target, or `null`: checked when a job is saved
 * and again before every publish. A token's owner is judged by its recorded scopes; a service
 * that scheduled over NATS (`service:dbplane/<service>`) by what it may publish itself, whatever
 * scopes were recorded for it (jobs saved before this rule recorded `admin`).
 */
export function ownerTargetProblem(
  target: TargetOfOwner,
  owner: { readonly id: string | null; readonly scopes: readonly string[] },
): string | null {
  if (!isServiceOwnerId(owner.id)) return targetScopeProblem(target, owner.scopes);
  const service = serviceOfOwner(owner.id);
  if (!service) return `the owner ${JSON.stringify(owner.id)} is no dbplane service`;
  if (target.kind !== TargetKind.nats || target.subject === undefined) {
    return `the ${service} service may schedule only NATS subjects it publishes itself`;
  }
  return serviceTargetProblem(service, target.subject);
}
