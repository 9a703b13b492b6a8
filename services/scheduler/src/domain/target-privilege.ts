import { grants, Scope } from "@dbplane/service-kit";
import { TargetKind } from "./limits.ts";

/**
 * dbplane's own commands and events, with or without a namespace token in front: a job that
 * publishes there speaks for the platform (delete a database, forge `database.ready`), so only
 * `admin` may schedule one, and it fires only while its owner's recorded scopes grant `admin`.
 */
const PLATFORM_SUBJECT = /^(?:[a-z][a-z0-9_]*\.)?dbplane\.(?:cmd|evt)\./;

/** Whether a job with this target needs the `admin` scope. */
export function isPlatformTarget(target: { readonly kind: string; readonly subject?: string }): boolean {
  return target.kind === TargetKind.nats && PLATFORM_SUBJECT.test(target.subject ?? "");
}

/**
 * Why an owner holding `scopes` may not have a job with this target, or `null` when they may:
 * the scope a platform target needs is named, so a 403 or a failed run says what is missing.
 */
export function targetScopeProblem(
  target: { readonly kind: string; readonly subject?: string },
  scopes: readonly string[],
): string | null {
  if (!isPlatformTarget(target) || grants(scopes, Scope.admin)) return null;
  return `the target ${JSON.stringify(target.subject)} is a dbplane command or event: it needs the scope "admin"`;
}
