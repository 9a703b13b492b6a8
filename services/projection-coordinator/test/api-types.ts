/** The response shapes the tests read (as the API documents them in /docs). */
export interface Problem {
  readonly status: number;
  readonly detail: string;
  readonly errors: { field: string; message: string }[];
}
export interface ParkedItem {
  readonly id: number;
  readonly projection: string;
  readonly state: string;
  readonly attempts: number;
  readonly reason: string;
  readonly event: { id: string; data: unknown };
}
export interface ParkedList {
  readonly items: ParkedItem[];
}
export interface AuditItem {
  readonly seq: number;
  readonly type: string;
  readonly subject: string;
  readonly data: Record<string, unknown>;
}
export interface AuditPage {
  readonly generation: number;
  readonly items: AuditItem[];
  readonly nextCursor: string | null;
}
export interface FleetDatabase {
  readonly id: string;
  readonly shards: { shard: number; transactionsPerSecond?: number; health?: { state: string } | null }[];
  readonly [field: string]: unknown;
}
export interface FleetView {
  readonly databases: FleetDatabase[];
  readonly apps: Record<string, unknown>[];
}
export interface ProjectionsView {
  readonly items: {
    name: string;
    generations: { generation: number; state: string; units: { owner: string | null }[] }[];
  }[];
}

/** The body of a response, as `T`. */
export async function json<T>(response: Response | Promise<Response>): Promise<T> {
  return (await (await response).json()) as T;
}
