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
type CacheEntry = { readonly expires: number; readonly value: Promise<string> };

/** How long a password read from a Secret is reused: short, so a rotated password is picked up. */
export const SECRET_TTL_MS = 60_000;

/**
 * The most Secret values kept at once: databases come and go, and a cache keyed by them would
 * otherwise keep every password it ever read. The least recently used goes first.
 */
export const SECRET_CACHE_MAX_ENTRIES = 1_024;

/**
 * Resolves password references (the router's shards, the collector's targets). `file` (local driver): the file's content without a
 * trailing newline. `secret` (Kubernetes driver): `data[key]` of the Secret, base64-decoded,
 * cached per (namespace, name, key) for `ttlMs`, at most `maxEntries` of them (least recently
 * used evicted first, expired ones before any). Errors name the file or the Secret and key,
 * never the value; the password stays in memory only: never logged, never returned by the API.
 * A ref outside `scope` (a file outside the data directory, a Secret in another namespace or
 * not named as the provisioner names them) is refused with PasswordRefRefusedError, unread.
 */
export class PasswordResolver {
  readonly #kube: KubeAccess;
  readonly #scope: PasswordRefScope;
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  // A Map iterates in insertion order: re-inserting on every hit keeps the least recently used first.
  readonly #cache = new Map<string, CacheEntry>();

  constructor(
    kube: KubeAccess,
    scope: PasswordRefScope,
    ttlMs = SECRET_TTL_MS,
    maxEntries = SECRET_CACHE_MAX_ENTRIES,
  ) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1)
      throw new RangeError("maxEntries must be a positive integer");
    this.#kube = kube;
    this.#scope = scope;
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
  }

  async resolve(ref: PasswordRef): Promise<string> {
    const refusal = passwordRefRefusal(ref, this.#scope);
    if (refusal !== undefined) throw new PasswordRefRefusedError(`password reference refused: ${refusal}`);
    if (ref.kind === "file") return readPasswordFile(ref.path, this.#scope.dataDir);
    const id = `${ref.namespace}/${ref.name}#${ref.key}`;
    const now = Date.now();
    const hit = this.#cache.get(id);
    this.#cache.delete(id);
    if (hit && hit.expires > now) {
      this.#cache.set(id, hit);
      return hit.value;
    }
    // Concurrent callers share one read; a failed read is forgotten so the next call retries.
    const value = this.#readSecret(ref);
    this.#remember(id, { expires: now + this.#ttlMs, value }, now);
    value.catch(() => {
      if (this.#cache.get(id)?.value === value) this.#cache.delete(id);
    });
    return value;
  }

  /** Stores an entry; over the cap, drops the expired entries, then the least recently used. */
  #remember(id: string, entry: CacheEntry, now: number): void {
    this.#cache.set(id, entry);
    if (this.#cache.size <= this.#maxEntries) return;
    for (const [key, cached] of this.#cache) if (cached.expires <= now) this.#cache.delete(key);
    for (const key of this.#cache.keys()) {
      if (this.#cache.size <= this.#maxEntries) break;
      this.#cache.delete(key);
    }
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
