import { Worker } from "node:worker_threads";
import type { Logger } from "@dbplane/service-kit";
import type {
  FiringThreadData,
  FromThread,
  ThreadArm,
  ThreadResult,
  ThreadStages,
  ToThread,
} from "./firing-thread-protocol.ts";

export type { ThreadArm, ThreadResult } from "./firing-thread-protocol.ts";

export interface FiringThreadOptions extends FiringThreadData {
  /** Logs the thread's lines (its NATS connection's events). */
  readonly logger: Logger;
  /** The thread ended without being stopped (it threw): this replica can no longer fire NATS jobs. */
  readonly onDied: (err: Error) => void;
}

/**
 * The main thread's side of the firing thread (`firing-thread.ts`): a worker thread with a NATS
 * connection of its own that holds each NATS occurrence's encoded message until it is due,
 * publishes it, and reports its ack. Its event loop does nothing else, so a claim round's
 * result, a batch of run records, an HTTP request or the main heap's garbage collection no
 * longer stand between a due time and its publish (in `bench scheduler` those made the spread's
 * tail: 50–250 ms tasks on the main thread). The main thread keeps everything else: claims,
 * leases, retries after a failed attempt, run records, events.
 *
 * Arms and cancels are sent in batches, once per turn of the main event loop (or at `flush`).
 */
export class FiringThread {
  readonly #worker: Worker;
  #arms: ThreadArm[] = [];
  #cancels: number[] = [];
  #offset = 0;
  #sentOffset = Number.NaN;
  #posting = false;
  #stages: ThreadStages = { timerBuckets: 0, waiting: 0, inFlight: 0 };
  #stopping: ((unstarted: readonly number[]) => void) | undefined;
  #stopped: Promise<readonly number[]> | undefined;
  #exited = false;
  #nextId = 1;
  #onResult: (result: ThreadResult) => void = () => {};

  private constructor(worker: Worker) {
    this.#worker = worker;
  }

  /** Starts the thread; resolves once its NATS connection is up. */
  static start(options: FiringThreadOptions): Promise<FiringThread> {
    const { onDied: _onDied, logger: _logger, ...data } = options;
    const worker = new Worker(new URL("./firing-thread.ts", import.meta.url), {
      workerData: data satisfies FiringThreadData,
      name: "firing",
    });
    const thread = new FiringThread(worker);
    const log = options.logger.child({ component: "firing-thread" });
    return new Promise((resolve, reject) => {
      let ready = false;
      worker.on("message", (m: FromThread) => {
        if (m.t === "ready") {
          ready = true;
          resolve(thread);
        } else if (m.t === "failed") reject(new Error(`firing thread could not connect to NATS: ${m.error}`));
        else if (m.t === "log") log[m.level](m.fields, m.msg);
        else thread.#received(m);
      });
      worker.on("error", (err) => {
        if (!ready) reject(err);
        else if (!thread.#stopped) options.onDied(err);
      });
      worker.on("exit", (code) => {
        thread.#exited = true;
        thread.#stopping?.([]);
        if (!ready) reject(new Error(`firing thread exited with code ${code} before it was ready`));
        else if (!thread.#stopped) options.onDied(new Error(`firing thread exited with code ${code}`));
      });
    });
  }

  /** Who takes every result, in the order the thread sent them (the firing loop). */
  onResult(handler: (result: ThreadResult) => void): void {
    this.#onResult = handler;
  }

  /** A fresh id for an occurrence handed over. */
  nextId(): number {
    return this.#nextId++;
  }

  /** Hands an occurrence over; it is sent with the others of this turn. */
  arm(item: ThreadArm): void {
    this.#arms.push(item);
    this.#postSoon();
  }

  /** Withdraws an occurrence; the thread answers `cancelled`, or its result if it already started. */
  cancel(id: number): void {
    if (this.#stopped) return;
    this.#cancels.push(id);
    this.#postSoon();
  }

  /** The database's clock minus this process's; sent when it changed. */
  setOffset(ms: number): void {
    this.#offset = ms;
    if (ms !== this.#sentOffset) this.#postSoon();
  }

  /** Sends what is buffered now (a long task of the caller's own would hold it until its end). */
  flush(): void {
    this.#posting = false;
    if (this.#exited) return;
    if (this.#cancels.length > 0) {
      this.#post({ t: "cancel", ids: this.#cancels });
      this.#cancels = [];
    }
    if (this.#arms.length > 0) {
      this.#post({ t: "arm", offset: this.#offset, items: this.#arms });
      this.#arms = [];
      this.#sentOffset = this.#offset;
    } else if (this.#offset !== this.#sentOffset) {
      this.#post({ t: "offset", offset: this.#offset });
      this.#sentOffset = this.#offset;
    }
  }

  /** Where the thread's occurrences were at its last report. */
  get stages(): ThreadStages {
    return this.#stages;
  }

  /**
   * Stops the thread: occurrences not started are returned (their ids), publishes started are
   * awaited and their results delivered first; then the thread closes its connection and exits.
   */
  stop(): Promise<readonly number[]> {
    if (this.#stopped) return this.#stopped;
    this.flush();
    this.#stopped = new Promise<readonly number[]>((resolve) => {
      this.#stopping = resolve;
      if (this.#exited) resolve([]);
      else this.#post({ t: "stop" });
    });
    return this.#stopped;
  }

  #postSoon(): void {
    if (this.#posting) return;
    this.#posting = true;
    queueMicrotask(() => {
      if (this.#posting) this.flush();
    });
  }

  #post(m: ToThread): void {
    this.#worker.postMessage(m);
  }

  #received(m: FromThread): void {
    if (m.t === "results") {
      this.#stages = m.stages;
      for (const r of m.items) this.#onResult(r);
    } else if (m.t === "stopped") {
      this.#stages = { timerBuckets: 0, waiting: 0, inFlight: 0 };
      this.#stopping?.(m.unstarted);
    }
  }
}
