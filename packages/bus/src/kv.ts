import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient } from "@nats-io/jetstream";
import { type KvEntry, Kvm } from "@nats-io/kv";
import type { z } from "zod";
import { KvConflictError, KvContentionError } from "./errors.ts";
import { listKeys } from "./kv-keys.ts";
import { type KvWatch, type KvWatchOptions, watchKv } from "./kv-watch.ts";

/** A value read from the bucket with the revision to pass to `update`. */
export interface KvValue<T> {
  readonly key: string;
  readonly value: T;
  readonly revision: number;
  /** When this revision was written: the server's clock (the local one for what `updateWith` just wrote). */
  readonly created: Date;
}

export interface KvBucketOptions<T> {
  /** Validates values on write and read; without it values are `unknown` JSON. */
  readonly schema?: z.ZodType<T>;
  /** Revisions kept per key. Default 1. */
  readonly history?: number;
  /** Entries expire this long after their last write. Default: never. */
  readonly ttlMs?: number;
}

/** A JSON-valued KV bucket with compare-and-set helpers. */
export interface BusKv<T> {
  /** The full bucket name (`dbplane_<name>`, namespaced). */
  readonly bucket: string;
  get(key: string): Promise<KvValue<T> | undefined>;
  /**
   * The key's last entry, a delete included (`value` undefined then; the whole answer undefined
   * if the key was never written): what a re-created key follows, where `get` says only "absent".
   */
  entry(key: string): Promise<{ value: T | undefined; revision: number; created: Date } | undefined>;
  /** Writes unconditionally; returns the new revision. */
  put(key: string, value: T): Promise<number>;
  /** Writes only if the key does not exist; throws KvConflictError otherwise. */
  create(key: string, value: T): Promise<number>;
  /** Writes only if the key is still at `expectedRevision`; throws KvConflictError otherwise. */
  update(key: string, value: T, expectedRevision: number): Promise<number>;
  /**
   * Read-modify-write with compare-and-set, retried on conflict (up to `maxAttempts`, default
   * 20). `fn` gets the current value (undefined if absent) and returns the next one, or
   * `undefined` to leave the key as it is; it may run several times, so keep it pure.
   */
  updateWith(
    key: string,
    fn: (current: T | undefined) => T | undefined,
    options?: { maxAttempts?: number },
  ): Promise<KvValue<T> | undefined>;
  /**
   * Deletes the key; with `expectedRevision`, only if it is still at that revision (throws
   * KvConflictError otherwise), so a write that came in between is never lost.
   */
  delete(key: string, expectedRevision?: number): Promise<void>;
  keys(filter?: string): Promise<string[]>;
  /**
   * Changes of keys matching `keyFilter` (NATS wildcards, default all), starting with the current
   * value of each key unless `updatesOnly`, in revision order, each once. The watch re-subscribes
   * by itself when it falls behind the bucket (see KvWatch). Abort `signal` (or break out of the
   * loop) to stop.
   */
  watch(keyFilter?: string, options?: KvWatchOptions): KvWatch<T>;
}

const encoder = new TextEncoder();

export async function openKv<T>(
  js: JetStreamClient,
  bucket: string,
  replicas: number,
  options: KvBucketOptions<T> = {},
): Promise<BusKv<T>> {
  const jsm = await js.jetstreamManager();
  const kv = await new Kvm(js).create(bucket, {
    replicas,
    history: options.history ?? 1,
    ...(options.ttlMs !== undefined && { ttl: options.ttlMs }),
  });
  const parse = (raw: unknown): T => (options.schema ? options.schema.parse(raw) : (raw as T));
  const encode = (value: T) => encoder.encode(JSON.stringify(parse(value)));
  const decode = (entry: KvEntry): T => parse(entry.json());
  const cas = async (key: string, write: () => Promise<number>) => {
    try {
      return await write();
    } catch (err) {
      if (isWrongLastSequence(err)) throw new KvConflictError(bucket, key, { cause: err });
      throw err;
    }
  };

  const api: BusKv<T> = {
    bucket,
    async get(key) {
      const last = await api.entry(key);
      if (last?.value === undefined) return undefined;
      return { key, value: last.value, revision: last.revision, created: last.created };
    },
    async entry(key) {
      const entry = await kv.get(key);
      if (!entry) return undefined;
      const value = entry.operation === "PUT" ? decode(entry) : undefined;
      return { value, revision: entry.revision, created: entry.created };
    },
    put: async (key, value) => kv.put(key, encode(value)),
    create: async (key, value) => cas(key, () => kv.create(key, encode(value))),
    update: async (key, value, expectedRevision) =>
      cas(key, () => kv.update(key, encode(value), expectedRevision)),
    async updateWith(key, fn, { maxAttempts = 20 } = {}) {
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        const current = await api.get(key);
        const next = fn(current?.value);
        if (next === undefined) return current;
        try {
          const revision = current
            ? await api.update(key, next, current.revision)
            : await api.create(key, next);
          return { key, value: next, revision, created: new Date() };
        } catch (err) {
          if (!(err instanceof KvConflictError)) throw err;
          // Someone else wrote in between; spread the retries so contenders stop colliding.
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
        }
      }
      throw new KvContentionError(
        `gave up updating "${key}" in ${bucket} after ${maxAttempts} conflicting attempts`,
      );
    },
    delete: async (key, expectedRevision) => {
      if (expectedRevision === undefined) return kv.delete(key);
      await cas(key, async () => {
        await kv.delete(key, { previousSeq: expectedRevision });
        return 0;
      });
    },
    keys: (filter) => listKeys(() => kv.keys(filter), bucket),
    watch: (keyFilter, watchOptions = {}) => watchKv(kv, jsm, bucket, decode, keyFilter, watchOptions),
  };
  return api;
}

function isWrongLastSequence(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (
      e instanceof JetStreamApiError &&
      (e.code === JetStreamApiCodes.StreamWrongLastSequence ||
        e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
    ) {
      return true;
    }
  }
  return false;
}
