/** A readiness probe of one dependency: resolves when usable, throws (or hangs) when not. */
export type ReadinessCheck = () => Promise<void> | void;

export type CheckOutcome = "ok" | "failed" | "timed out";

export interface ReadinessReport {
  readonly ready: boolean;
  readonly draining: boolean;
  readonly checks: Readonly<Record<string, CheckOutcome>>;
  /** The errors behind failed checks, for the log only (they may name hosts). */
  readonly errors: Readonly<Record<string, unknown>>;
}

/** How long a check may take before it counts as failed: well inside a kubelet probe's 1 s default. */
export const DEFAULT_CHECK_TIMEOUT_MS = 800;

interface RegisteredCheck {
  readonly check: ReadinessCheck;
  readonly timeoutMs: number;
}

const TIMED_OUT = Symbol("timed out");

/** Named readiness checks plus the draining flag that shutdown raises first. */
export class Readiness {
  readonly #checks = new Map<string, RegisteredCheck>();
  #draining = false;

  add(name: string, check: ReadinessCheck, options: { timeoutMs?: number } = {}): void {
    if (this.#checks.has(name)) throw new Error(`readiness check "${name}" is already registered`);
    this.#checks.set(name, { check, timeoutMs: options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS });
  }

  /** From now on readiness answers 503 whatever the checks say; there is no way back. */
  startDraining(): void {
    this.#draining = true;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Runs every check in parallel, each bounded by its own timeout. */
  async run(): Promise<ReadinessReport> {
    if (this.#draining) return { ready: false, draining: true, checks: {}, errors: {} };
    const entries = [...this.#checks];
    const results = await Promise.all(entries.map(([, registered]) => runCheck(registered)));
    const checks: Record<string, CheckOutcome> = {};
    const errors: Record<string, unknown> = {};
    entries.forEach(([name], i) => {
      const result = results[i]!;
      checks[name] = result.outcome;
      if (result.outcome !== "ok") errors[name] = result.error;
    });
    const ready = Object.values(checks).every((outcome) => outcome === "ok");
    return { ready, draining: false, checks, errors };
  }
}

async function runCheck(registered: RegisteredCheck): Promise<{ outcome: CheckOutcome; error?: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), registered.timeoutMs);
  });
  try {
    const result = await Promise.race([Promise.resolve().then(registered.check), timeout]);
    if (result === TIMED_OUT) {
      return { outcome: "timed out", error: new Error(`check timed out after ${registered.timeoutMs} ms`) };
    }
    return { outcome: "ok" };
  } catch (error) {
    return { outcome: "failed", error };
  } finally {
    clearTimeout(timer);
  }
}
