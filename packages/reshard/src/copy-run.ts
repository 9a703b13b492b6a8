/**
 * An initial copy running in this process. start() returns once it is under way (so the caller can
 * poll progress() meanwhile); the copy itself and the steps after it (record, enable the
 * subscription) run here. Kept per move name in the process, so every RangeMove instance of the
 * same move sees it: a caller makes a new instance per step.
 */
export class CopyRun {
  readonly #rows = new Map<string, number>();
  readonly #estimates: Readonly<Record<string, number>>;
  readonly #controller = new AbortController();
  readonly #finished: Promise<void>;
  #error: unknown;
  #failed = false;

  constructor(
    estimates: Readonly<Record<string, number>>,
    work: (signal: AbortSignal, onRows: (table: string, n: number) => void) => Promise<void>,
  ) {
    this.#estimates = estimates;
    const onRows = (table: string, n: number) => this.#rows.set(table, (this.#rows.get(table) ?? 0) + n);
    this.#finished = work(this.#controller.signal, onRows).catch((err: unknown) => {
      this.#failed = true;
      this.#error = err;
    });
  }

  /** Rows copied so far of `table`. */
  rowsCopied(table: string): number {
    return this.#rows.get(table) ?? 0;
  }

  /** The estimate at start, or the rows copied once they passed it. */
  rowsTotal(table: string): number {
    return Math.max(this.#estimates[table] ?? 0, this.rowsCopied(table));
  }

  /** Why the copy failed; undefined while it runs or after it succeeded. */
  get failure(): { readonly error: unknown } | undefined {
    return this.#failed ? { error: this.#error } : undefined;
  }

  /** Stops the copy (its connections end, running parts roll back) and waits for it to end. */
  async abort(): Promise<void> {
    this.#controller.abort(new Error("the initial copy was stopped"));
    await this.#finished;
  }

  /** Resolves when the copy ended, however. */
  finished(): Promise<void> {
    return this.#finished;
  }

  /** Resolves when the copy ended or `ms` passed, whichever comes first. */
  async finishedWithin(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#finished, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }
}

const runs = new Map<string, CopyRun>();

/** The copy of move `name` running (or ended, not yet replaced) in this process. */
export function copyRunOf(name: string): CopyRun | undefined {
  return runs.get(name);
}

export function registerCopyRun(name: string, run: CopyRun): void {
  runs.set(name, run);
}

/** Stops this process's copy of `name`, if any, and forgets it. */
export async function stopCopyRun(name: string): Promise<void> {
  const run = runs.get(name);
  if (!run) return;
  await run.abort();
  if (runs.get(name) === run) runs.delete(name);
}
