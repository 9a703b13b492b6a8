import { type PasswordResolver, PasswordUnavailableError } from "@dbplane/kube";
import type { TargetSpec } from "../domain/target-spec.ts";

/**
 * A target's password: a Secret or file reference is resolved with this replica's own access;
 * `config` means the static target's URL carried it, and it lives only in this process's memory.
 */
export function targetPasswords(resolver: PasswordResolver, fromConfig: ReadonlyMap<string, string>) {
  return async (spec: TargetSpec): Promise<string | undefined> => {
    const credential = spec.credential;
    if (!credential) return undefined;
    if (credential.kind !== "config") return resolver.resolve(credential);
    const password = fromConfig.get(spec.id);
    if (password === undefined) {
      throw new PasswordUnavailableError(
        `the static target "${spec.id}" is not in this replica's DBPLANE_COLLECTOR_TARGETS, so its password is unknown here`,
      );
    }
    return password;
  };
}
