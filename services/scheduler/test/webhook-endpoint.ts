import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A request the endpoint received: its path, method, headers and body. */
export interface ReceivedRequest {
  readonly path: string;
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/**
 * Answers a request: a status now, `"hold"` to keep it open until `release(path)`, or a status
 * after `afterMs` (a slow endpoint) unless released earlier.
 */
export type Responder = (
  request: ReceivedRequest,
  nth: number,
) => number | "hold" | { readonly status: number; readonly afterMs: number };

/**
 * A webhook receiver on 127.0.0.1: each path answers as its responder says (the nth request to
 * that path, from 1); held requests stay open until released, so a test controls a slow
 * endpoint instead of sleeping.
 */
export interface WebhookEndpoint {
  readonly url: (path: string) => string;
  /** Every request received on `path`, in order. */
  received(path: string): ReceivedRequest[];
  /** Requests on `path` still open. */
  open(path: string): number;
  /** Answers the open requests on `path` with `status`. */
  release(path: string, status?: number): void;
  close(): Promise<void>;
}

export async function startWebhookEndpoint(responders: Record<string, Responder>): Promise<WebhookEndpoint> {
  const received = new Map<string, ReceivedRequest[]>();
  const held = new Map<string, ServerResponse[]>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "/";
      const request = {
        path,
        method: req.method ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      const list = received.get(path) ?? [];
      list.push(request);
      received.set(path, list);
      const answer = responders[path]?.(request, list.length) ?? 404;
      if (typeof answer === "number") {
        res.writeHead(answer).end();
        return;
      }
      held.set(path, [...(held.get(path) ?? []), res]);
      res.on("close", () =>
        held.set(
          path,
          (held.get(path) ?? []).filter((r) => r !== res),
        ),
      );
      if (answer !== "hold") {
        const timer = setTimeout(() => res.headersSent || res.writeHead(answer.status).end(), answer.afterMs);
        res.on("close", () => clearTimeout(timer));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const release = (path: string, status = 200) => {
    for (const res of held.get(path) ?? []) if (!res.headersSent) res.writeHead(status).end();
    held.set(path, []);
  };
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    received: (path) => received.get(path) ?? [],
    open: (path) => (held.get(path) ?? []).length,
    release,
    async close() {
      for (const path of held.keys()) release(path, 503);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
