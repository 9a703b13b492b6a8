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
/** Between polls: a person sees an event about a second after the read model has it. */
export const TAIL_INTERVAL_MS = 1_000;

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
 * Follows the audit read model by polling `GET /v1/audit` (no service streams events over HTTP),
 * calling `print` once per new event in the order the API returns them.
 */
export async function tailAudit(
  coordinator: ApiClient,
  options: TailOptions,
  print: (event: AuditEvent) => void,
): Promise<void> {
  const window = new TailWindow(options.startMs);
  // On stderr, so stdout holds only events; a script (or a test) knows the tail is in place.
  process.stderr.write(
    `following events from ${window.from().toISOString()} (polling the audit read model)\n`,
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
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? TAIL_INTERVAL_MS));
  }
}
