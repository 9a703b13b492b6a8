import { FenceHoldAbortedError } from "./fence-errors.ts";

/** Wakes every waiter at once when something they wait on may have changed; they look again. */
export class ChangeSignal {
  #changed = Promise.withResolvers<void>();

  wake(): void {
    const changed = this.#changed;
    this.#changed = Promise.withResolvers<void>();
    changed.resolve();
  }

  /**
   * Resolves at the next `wake`; rejects with `timeout()` at `deadline` (performance.now() time)
   * and with FenceHoldAbortedError when `signal` aborts.
   */
  async next(deadline: number, signal: AbortSignal | undefined, timeout: () => Error): Promise<void> {
    if (signal?.aborted) throw new FenceHoldAbortedError("the held write was cancelled");
    const left = deadline - performance.now();
    if (left <= 0) throw timeout();
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        this.#changed.promise,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(timeout()), left);
          onAbort = () => reject(new FenceHoldAbortedError("the held write was cancelled"));
          signal?.addEventListener("abort", onAbort, { once: true });
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener("abort", onAbort);
    }
  }
}
