// The local entry point of a service that runs several replicas: an HTTP proxy on the service's
// port + 100 (scheduler: 7204) handing each request to the next ready replica in turn, so a
// client sees the whole group the way a Kubernetes Service spreads over pods, and keeps getting
// answers while a replica is dead. The first replica keeps the service's usual port (7101–7106),
// so existing URLs still reach a replica directly. Each answer names the replica in
// `x-dbplane-replica`. A GET or HEAD whose replica fails before answering is tried once more on
// the next one; other requests get 502 naming the replica. node:http only (a proxy library would
// add a dependency for these 60 lines).
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import type { Replica } from "./supervisor.ts";

export const ENTRY_PORT_OFFSET = 100;

export function startEntryProxy(port: number, replicas: readonly Replica[]): Promise<Server> {
  let next = 0;
  const pick = (): Replica | undefined => {
    for (let i = 0; i < replicas.length; i++) {
      const replica = replicas[(next + i) % replicas.length]!;
      if (replica.state === "ready") {
        next = (next + i + 1) % replicas.length;
        return replica;
      }
    }
    return undefined;
  };
  const fail = (res: ServerResponse, message: string) => {
    if (res.headersSent) return void res.destroy();
    res.writeHead(502, { "content-type": "application/json" });
    res.end(JSON.stringify({ status: 502, title: "Bad Gateway", detail: message }));
  };
  const forward = (req: IncomingMessage, res: ServerResponse, retries: number) => {
    const replica = pick();
    if (!replica) return fail(res, "no replica of this service is ready; the supervisor is restarting them");
    const upstream = request(
      { host: "127.0.0.1", port: replica.spec.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, {
          ...answer.headers,
          "x-dbplane-replica": replica.spec.label,
        });
        answer.pipe(res);
      },
    );
    upstream.on("error", (err) => {
      if (retries > 0 && !res.headersSent) return forward(req, res, retries - 1);
      fail(res, `${replica.spec.label} failed: ${err.message}`);
    });
    if (req.method === "GET" || req.method === "HEAD") upstream.end();
    else req.pipe(upstream);
  };
  const server = createServer((req, res) => {
    const idempotent = req.method === "GET" || req.method === "HEAD";
    forward(req, res, idempotent ? 1 : 0);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}
