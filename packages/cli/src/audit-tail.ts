import type { ApiClient } from "./api-client.ts";

/** One event as the projection-coordinator's audit read model serves it (`GET /v1/audit`). */
export interface AuditEvent {
  readonly seq: number;
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly subject: string;
  readonly time: string;
  readonly correlationid: string | null;
  readonly data: unknown;
}
interface AuditPage {
  readonly items: AuditEvent[];
  readonly nextCursor: string | null;
}

/**
 * How far back each poll looks again. The audit is ordered by the events' own time, and an event
 * can reach the read model after later ones (another partition, a slower publisher): re-reading
 * this window and skipping ids already printed catches it instead of stepping past it for good.
 */
export const TAIL_OVERLAP_MS = 30_000;
/** Between polls without the change stream: a person sees an event about a second after the read model has it. */
export const TAIL_INTERVAL_MS = 1_000;
/** With the change stream, a read this often anyway: a change missed while reconnecting is still caught. */
export const TAIL_LIVE_INTERVAL_MS = 15_000;

/**
 * The projection-coordinator's change stream (`GET /v1/console/events`, Server-Sent Events):
 * `wait()` resolves at the next change of the audit read model, or after `maxMs`. A stream that
 * ends is opened again after a second; one the server does not have (404, an older version) or
 * refuses leaves `live` false, and the tail polls instead.
 */
export class AuditChanges {
  live = false;
  #wake: (() => void) | undefined;
  readonly #abort = new AbortController();

  constructor(coordinator: ApiClient) {
    void this.#run(coordinator);
  }

  // Declared before `ready`, whose initializer sets it: fields initialize in this order.
  #ready!: (live: boolean) => void;
  /** Resolves once the stream is open (true) or known not to be (false). */
  readonly ready: Promise<boolean> = new Promise((resolve) => {
    this.#ready = resolve;
  });

  wait(maxMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, maxMs);
      const self = this;
      function done() {
        clearTimeout(timer);
        if (self.#wake === done) self.#wake = undefined;
        resolve();
      }
      this.#wake = done;
    });
  }

  close(): void {
    this.#abort.abort();
    this.#wake?.();
  }

  async #run(coordinator: ApiClient): Promise<void> {
    const decoder = new TextDecoder();
    while (!this.#abort.signal.aborted) {
      let body: ReadableStream<Uint8Array>;
      try {
        body = await coordinator.stream("/v1/console/events", this.#abort.signal);
      } catch {
        this.live = false;
        this.#ready(false);
        return;
      }
      this.live = true;
      this.#ready(true);
      let buffer = "";
      try {
        for await (const chunk of body) {
          buffer += decoder.decode(chunk, { stream: true });
          for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
            const message = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            if (/^event: change$/m.test(message) && /"audit"/.test(message)) this.#wake?.();
          }
        }
      } catch {
        // Dropped (the coordinator restarted, the token expired): open it again below.
      }
      this.live = false;
      if (!this.#abort.signal.aborted) await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}

/** `io.dbplane.*.job.*` → a RegExp over whole types: `*` any run of characters, `?` one. */
export function typeMatcher(glob: string): (type: string) => boolean {
  const source = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  const pattern = new RegExp(`^${source}$`);
  return (type) => pattern.test(type);
}

/** A glob without wildcards is an exact type, which the API filters itself. */
export const isExactType = (glob: string) => !/[*?]/.test(glob);

/**
 * What a tail has printed, by event id, and where the next poll starts: `TAIL_OVERLAP_MS` before
 * the newest event seen, never before where the tail began. Ids older than the window are
 * forgotten, so memory stays bounded however long the tail runs.
 */
export class TailWindow {
  #seen = new Map<string, number>();
  #newest: number;
  readonly #start: number;

  constructor(startMs: number) {
    this.#start = startMs;
    this.#newest = startMs;
  }

  /** The `from` of the next poll. */
  from(): Date {
    return new Date(Math.max(this.#start, this.#newest - TAIL_OVERLAP_MS));
  }

  /** True the first time an event is offered; false for one already printed. */
  admit(event: AuditEvent): boolean {
    if (this.#seen.has(event.id)) return false;
    const at = Date.parse(event.time);
    this.#seen.set(event.id, at);
    if (at > this.#newest) this.#newest = at;
    const horizon = this.from().getTime();
    for (const [id, time] of this.#seen) if (time < horizon) this.#seen.delete(id);
    return true;
  }
}

export interface TailOptions {
  readonly startMs: number;
  readonly type?: string;
  readonly subject?: string;
  /** Stop after this many events (scripts, tests); absent: until interrupted. */
  readonly count?: number;
  readonly intervalMs?: number;
}

/**
 * Follows the audit read model: `GET /v1/audit` again each time its change stream says the audit
 * changed (or every second where the coordinator has no stream), calling `print` once per new
 * event in the order the API returns them.
 */
export async function tailAudit(
  coordinator: ApiClient,
  options: TailOptions,
  print: (event: AuditEvent) => void,
): Promise<void> {
  const changes = new AuditChanges(coordinator);
  try {
    await tail(coordinator, changes, options, print);
  } finally {
    changes.close();
  }
}

async function tail(
  coordinator: ApiClient,
  changes: AuditChanges,
  options: TailOptions,
  print: (event: AuditEvent) => void,
): Promise<void> {
  const window = new TailWindow(options.startMs);
  const live = await changes.ready;
  // On stderr, so stdout holds only events; a script (or a test) knows the tail is in place.
  process.stderr.write(
    `following events from ${window.from().toISOString()} (${live ? "on the audit read model's change stream" : "polling the audit read model"})\n`,
  );
  const matches = options.type ? typeMatcher(options.type) : () => true;
  let printed = 0;
  for (;;) {
    let cursor: string | null = null;
    const query = new URLSearchParams({ from: window.from().toISOString(), limit: "1000" });
    if (options.type && isExactType(options.type)) query.set("type", options.type);
    if (options.subject) query.set("subject", options.subject);
    do {
      if (cursor) query.set("cursor", cursor);
      const page: AuditPage = (await coordinator.request<AuditPage>("GET", `/v1/audit?${query}`)).body;
      for (const event of page.items) {
        if (!window.admit(event) || !matches(event.type)) continue;
        print(event);
        if (options.count !== undefined && ++printed >= options.count) return;
      }
      cursor = page.nextCursor;
    } while (cursor);
    await changes.wait(changes.live ? TAIL_LIVE_INTERVAL_MS : (options.intervalMs ?? TAIL_INTERVAL_MS));
  }
}
