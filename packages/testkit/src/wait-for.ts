export interface WaitForOptions {
  /** Give up after this long; the error names `what`. Default 10 s. */
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  /** What is being waited for, for the error message. */
  readonly what?: string;
}

export class WaitTimeoutError extends Error {
  override readonly name = "WaitTimeoutError";
}

/**
 * Polls `probe` until it returns a value other than `undefined`/`false` (or stops throwing) and
 * returns that value; fails with the last error after the deadline. Use instead of sleeps.
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<Exclude<T, false | undefined>> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  const interval = options.intervalMs ?? 50;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as Exclude<T, false | undefined>;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const what = options.what ?? "condition";
      throw new WaitTimeoutError(`timed out after ${options.timeoutMs ?? 10_000} ms waiting for ${what}`, {
        cause: lastError,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
