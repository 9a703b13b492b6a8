import { describe, expect, it } from "vitest";
import { type KeyListing, listKeys } from "../src/kv-keys.ts";

/** A listing that yields `keys` and then either ends or, like nats.js's stuck keys(), waits until stopped. */
function listing(keys: string[], endsByItself: boolean): KeyListing {
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  return {
    stop: () => stop(),
    async *[Symbol.asyncIterator]() {
      for (const key of keys) yield key;
      if (!endsByItself) await stopped;
    },
  };
}

describe("listKeys", () => {
  it("answers the keys of a listing that ends", async () => {
    expect(await listKeys(async () => listing(["a", "b"], true), "bucket")).toEqual(["a", "b"]);
  });

  it("starts a listing that never ends again, and answers the one that ends", async () => {
    let opened = 0;
    const keys = await listKeys(
      async () => {
        opened++;
        return opened === 1 ? listing(["a"], false) : listing(["a", "b"], true);
      },
      "bucket",
      { attemptMs: 50 },
    );
    expect(keys).toEqual(["a", "b"]);
    expect(opened).toBe(2);
  });

  it("throws after as many stuck attempts as allowed, never answering part of the keys", async () => {
    let opened = 0;
    await expect(
      listKeys(
        async () => {
          opened++;
          return listing(["a"], false);
        },
        "facts",
        { attemptMs: 20, attempts: 3 },
      ),
    ).rejects.toThrow(/listing the keys of facts did not end within 20 ms, 3 times/);
    expect(opened).toBe(3);
  });
});
