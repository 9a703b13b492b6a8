import { isAbsolute, relative, resolve } from "node:path";
import type { PasswordRef } from "./password-resolver.ts";

/**
 * Where password references may point. A reference travels in messages and maps that a caller
 * could forge, and the reader resolves it with its own rights: unscoped, a ref such as
 * `/proc/self/environ` or the release's own `dbplane-secrets` would hand the reader's secrets to
 * whatever server the map names. The provisioner issues refs only inside these bounds.
 */
export interface PasswordRefScope {
  /** Local driver: a file ref must lie inside this directory (DBPLANE_DATA_DIR), symlinks followed. */
  readonly dataDir: string;
  /** Kubernetes driver: a Secret ref must be in this namespace (the release's, DBPLANE_KUBE_NAMESPACE). */
  readonly namespace: string;
  /**
   * References from the reader's own configuration (an operator's choice, e.g. the collector's
   * credential for discovered servers): accepted as they are, whatever their place.
   */
  readonly configured?: readonly PasswordRef[];
}

/** Whose password a ref is: one shard's, or the database's application role. */
export type PasswordRefOwner =
  | { readonly database: string; readonly shard: number }
  | { readonly database: string; readonly role: "application" };

/**
 * The Secret names the provisioner issues: `<db>-shard-<n>-<suffix>` (a shard's credentials) and
 * `<db>-app` (the application role's). Nothing else in the namespace is a password.
 */
const ISSUED_SECRET = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?-(?:shard-\d+-[a-z0-9]+|app)$/;

/** Whether `path` (already absolute and normalised) lies strictly inside `dir`. */
export function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
}

/**
 * Why `ref` is outside `scope` (and, given an `owner`, not that owner's), or undefined when it is
 * acceptable. Pure: a file ref is judged by its path as written; the resolver checks it again
 * with symlinks followed before reading.
 */
export function passwordRefRefusal(
  ref: PasswordRef,
  scope: PasswordRefScope,
  owner?: PasswordRefOwner,
): string | undefined {
  if (scope.configured?.some((c) => sameRef(c, ref))) return undefined;
  if (ref.kind === "file") {
    if (!isAbsolute(ref.path)) return "a password file must be given by an absolute path";
    if (!isInside(resolve(scope.dataDir), resolve(ref.path)))
      return "a password file must lie inside DBPLANE_DATA_DIR, where the provisioner writes them";
    return undefined;
  }
  const secret = `Secret ${ref.namespace}/${ref.name}`;
  if (ref.namespace !== scope.namespace)
    return `${secret} is outside the release namespace ${scope.namespace}, where the provisioner makes them`;
  if (!ISSUED_SECRET.test(ref.name))
    return `${secret} is not a provisioner's credentials Secret (<database>-shard-<n>-… or <database>-app)`;
  if (owner === undefined) return undefined;
  const issued =
    "shard" in owner
      ? // One word after the index, so `a` cannot claim `a-shard-0-b-shard-0-credentials` (database `a-shard-0-b`'s).
        new RegExp(`^${owner.database}-shard-${owner.shard}-[a-z0-9]+$`).test(ref.name)
      : ref.name === `${owner.database}-app`;
  if (!issued) {
    const whose =
      "shard" in owner ? `shard ${owner.shard} of ${owner.database}` : `${owner.database}'s application role`;
    return `${secret} does not hold the password of ${whose}`;
  }
  return undefined;
}

function sameRef(a: PasswordRef, b: PasswordRef): boolean {
  if (a.kind === "file") return b.kind === "file" && a.path === b.path;
  return b.kind === "secret" && a.namespace === b.namespace && a.name === b.name && a.key === b.key;
}
