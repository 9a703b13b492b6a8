/** What nats.js's `kv.keys()` resolves to: keys as they arrive, and a way to end the listing. */
export interface KeyListing extends AsyncIterable<string> {
  stop(err?: Error): void;
}

/** How long one listing may take before it is abandoned and started again. */
export const KEYS_ATTEMPT_MS = 10_000;
const KEYS_ATTEMPTS = 3;

/**
 * All keys of a listing, each attempt bounded. nats.js ends `keys()` when a delivered key says
 * nothing is pending, or at the consumer's idle heartbeat; when neither comes, it waits for ever
 * — seen when another replica wrote the same keys while discovery listed them at start, which
 * left it unready for good. An attempt past `attemptMs` is stopped and a new listing started;
 * after `attempts` such attempts it throws rather than answer with some of the keys.
 */
export async function listKeys(
  open: () => Promise<KeyListing>,
  what: string,
  { attemptMs = KEYS_ATTEMPT_MS, attempts = KEYS_ATTEMPTS } = {},
): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    const listing = await open();
    const out: string[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      listing.stop();
    }, attemptMs);
    try {
      for await (const key of listing) out.push(key);
    } finally {
      clearTimeout(timer);
    }
    if (!timedOut) return out;
    if (attempt >= attempts) {
      throw new Error(`listing the keys of ${what} did not end within ${attemptMs} ms, ${attempts} times`);
    }
  }
}
