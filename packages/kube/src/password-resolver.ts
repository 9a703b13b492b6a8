import { readFile, realpath } from "node:fs/promises";
import type { passwordRef } from "@dbplane/contracts";
import { ApiException } from "@kubernetes/client-node";
import type { z } from "zod";
import { isInside, type PasswordRefScope, passwordRefRefusal } from "./password-ref-scope.ts";
import type { KubeAccess } from "./secret-access.ts";

/** A password cannot be obtained; the message names the file or Secret and key, never a value. */
export class PasswordUnavailableError extends Error {
  override readonly name: string = "PasswordUnavailableError";
  readonly code: string = "PASSWORD_UNAVAILABLE";
}

/** The ref points outside the reader's PasswordRefScope: refused without being read. */
export class PasswordRefRefusedError extends PasswordUnavailableError {
  override readonly name = "PasswordRefRefusedError";
  override readonly code = "PASSWORD_REF_REFUSED";
}

/** A provisioner `passwordRef`: a 0600 file (local driver) or a key of a Secret (Kubernetes). */
export type PasswordRef = z.output<typeof passwordRef>;
type SecretRef = Extract<PasswordRef, { kind: "secret" }>;

/** How long a password read from a Secret is reused: short, so a rotated password is picked up. */
export const SECRET_TTL_MS = 60_000;

/**
 * Resolves password references (the router's shards, the collector's targets). `file` (local driver): the file's content without a
 * trailing newline. `secret` (Kubernetes driver): `data[key]` of the Secret, base64-decoded,
 * cached per (namespace, name, key) for `ttlMs`. Errors name the file or the Secret and key,
 * never the value; the password stays in memory only: never logged, never returned by the API.
 * A ref outside `scope` (a file outside the data directory, a Secret in another namespace or
 * not named as the provisioner names them) is refused with PasswordRefRefusedError, unread.
 */
export class PasswordResolver {
  readonly #kube: KubeAccess;
  readonly #scope: PasswordRefScope;
  readonly #ttlMs: number;
  readonly #cache = new Map<string, { expires: number; value: Promise<string> }>();

  constructor(kube: KubeAccess, scope: PasswordRefScope, ttlMs = SECRET_TTL_MS) {
    this.#kube = kube;
    this.#scope = scope;
    this.#ttlMs = ttlMs;
  }

  async resolve(ref: PasswordRef): Promise<string> {
    const refusal = passwordRefRefusal(ref, this.#scope);
    if (refusal !== undefined) throw new PasswordRefRefusedError(`password reference refused: ${refusal}`);
    if (ref.kind === "file") return readPasswordFile(ref.path, this.#scope.dataDir);
    const id = `${ref.namespace}/${ref.name}#${ref.key}`;
    const now = Date.now();
    const hit = this.#cache.get(id);
    if (hit && hit.expires > now) return hit.value;
    // Concurrent callers share one read; a failed read is forgotten so the next call retries.
    const value = this.#readSecret(ref);
    this.#cache.set(id, { expires: now + this.#ttlMs, value });
    value.catch(() => {
      if (this.#cache.get(id)?.value === value) this.#cache.delete(id);
    });
    return value;
  }

  async #readSecret(ref: SecretRef): Promise<string> {
    const cannot = `cannot read key "${ref.key}" of Secret ${ref.namespace}/${ref.name}`;
    if (this.#kube.kind === "none") throw new PasswordUnavailableError(`${cannot}: ${this.#kube.reason}`);
    let data: Record<string, string> | undefined;
    try {
      data = await this.#kube.source.readData(ref.namespace, ref.name);
    } catch (err) {
      const why =
        err instanceof ApiException
          ? `the Kubernetes API answered ${err.code}`
          : "the Kubernetes API is unreachable";
      throw new PasswordUnavailableError(`${cannot}: ${why}`, { cause: err });
    }
    if (data === undefined) throw new PasswordUnavailableError(`${cannot}: the Secret does not exist`);
    const encoded = data[ref.key];
    if (encoded === undefined) throw new PasswordUnavailableError(`${cannot}: the Secret has no such key`);
    return Buffer.from(encoded, "base64").toString("utf8");
  }
}

/** Reads the file after checking, with symlinks followed, that it still lies inside `dataDir`. */
async function readPasswordFile(path: string, dataDir: string): Promise<string> {
  try {
    const [real, root] = await Promise.all([realpath(path), realpath(dataDir)]);
    if (!isInside(root, real)) {
      throw new PasswordRefRefusedError(
        "password reference refused: the password file links to a place outside DBPLANE_DATA_DIR",
      );
    }
    return (await readFile(real, "utf8")).replace(/\r?\n$/, "");
  } catch (err) {
    if (err instanceof PasswordRefRefusedError) throw err;
    throw new PasswordUnavailableError(
      `cannot read the password file (${(err as NodeJS.ErrnoException).code})`,
      { cause: err },
    );
  }
}
