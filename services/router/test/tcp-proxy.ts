import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP forwarder standing in for a shard server's address. `stop()` behaves like a PostgreSQL
 * server going away: open connections are cut and new ones refused. `blackHole()` behaves like a
 * host that froze or a half-open socket: connections stay open and are accepted, but nothing
 * more is forwarded either way — no answer, no error, no close.
 */
export interface TcpProxy {
  readonly port: number;
  stop(): Promise<void>;
  blackHole(): void;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let holed = false;
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on("error", () => {});
    if (holed) {
      client.resume();
      return;
    }
    const upstream = connect(targetPort, targetHost);
    sockets.add(upstream);
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("proxy has no port");
  return {
    port: address.port,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
    blackHole() {
      holed = true;
      for (const s of sockets) {
        // Keep reading (and dropping) so the peer's writes never fail; forward nothing.
        s.unpipe();
        s.removeAllListeners("data");
        s.on("data", () => {});
      }
    },
  };
}
