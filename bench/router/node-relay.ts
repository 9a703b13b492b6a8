// The floor of a PostgreSQL hop written in Node: each client's bytes piped to a connection of its
// own to the server and back ('data' → write, both ways), nothing read, nothing pooled — what
// PgBouncer's session mode does, with Node's sockets. Its CPU per transaction, beside the
// router's and PgBouncer's, says how much of the router's cost any Node relay pays.
//
// Variants (the bench's BENCH_RELAY_VARIANTS: RELAY_VARIANTS in wire-section.ts), to find the ceiling of a Node hop:
// RELAY_BUSY=1 the same process also serves HTTP and talks to NATS and PostgreSQL (light traffic,
// as the router does beside its wire endpoint: do those sockets slow the relay's?; RELAY_BUSY_MS
// apart, for RELAY_BUSY_FOR_MS if set, then the connections stay idle); RELAY_WORKER=1
// the relay's sockets live in a worker_threads Worker (the busy part, if any, stays on the main
// thread); RELAY_READ=onread the server side is read with net's `onread` (one static buffer, no
// stream push; a socket a net.Server accepts cannot take onread, so the client side stays 'data'); RELAY_READ=pipe `stream.pipe` both ways; RELAY_NODELAY=0 Nagle left on.
import { request as httpRequest, createServer as httpServer } from "node:http";
import { connect, createServer, type Socket } from "node:net";
import { isMainThread, parentPort, Worker } from "node:worker_threads";

const serverPort = Number(process.env.SERVER_PORT);
const serverHost = process.env.SERVER_HOST ?? "127.0.0.1";
const read = process.env.RELAY_READ ?? "data";
const noDelay = process.env.RELAY_NODELAY !== "0";

/** Listens on PORT and relays; resolves once listening, returns a function that closes it. */
function startRelay(): Promise<() => Promise<void>> {
  const server = createServer((client) => {
    if (noDelay) client.setNoDelay(true);
    let upstream: Socket;
    if (read === "onread") {
      // net's onread: the callback gets each read in one buffer reused for every read, written
      // at once (write copies nothing, but the kernel has the bytes before the buffer is reused:
      // a pending write would keep a view; so copy when the write did not complete).
      upstream = connect({
        port: serverPort,
        host: serverHost,
        onread: {
          buffer: Buffer.allocUnsafe(64 * 1024),
          callback: (n, buf) => {
            client.write(Buffer.from(buf.subarray(0, n)));
            return true;
          },
        },
      });
    } else upstream = connect(serverPort, serverHost);
    if (noDelay) upstream.setNoDelay(true);
    if (read === "pipe") {
      client.pipe(upstream);
      upstream.pipe(client);
    } else {
      client.on("data", (chunk) => upstream.write(chunk));
      if (read !== "onread") upstream.on("data", (chunk) => client.write(chunk));
    }
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on("error", end);
      socket.on("close", end);
    }
  });
  return new Promise((resolve) =>
    server.listen(Number(process.env.PORT), "127.0.0.1", () =>
      resolve(() => new Promise((done) => server.close(() => done()))),
    ),
  );
}

/**
 * Light traffic of the router's other kinds of sockets, every `everyMs`: an HTTP request to a
 * server of its own (node:http both sides), a NATS request/reply, a PostgreSQL query (pg).
 */
async function startBusy(everyMs: number): Promise<() => Promise<void>> {
  const { connect: natsConnect } = await import("@nats-io/transport-node");
  const pg = (await import("pg")).default;
  const http = httpServer((_req, res) => res.end("ok\n"));
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const httpPort = (http.address() as { port: number }).port;
  const nats = await natsConnect({ servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222" });
  const subject = `relay-busy.${process.pid}.${Date.now()}`;
  nats.subscribe(subject, { callback: (_err, msg) => void msg.respond(msg.data) });
  const pool = new pg.Pool({ connectionString: process.env.PG_URL, max: 2 });
  pool.on("error", () => {});
  const tick = () => {
    httpRequest({ port: httpPort, host: "127.0.0.1", path: "/" }, (res) => res.resume()).end();
    nats.request(subject, "ping", { timeout: 1000 }).catch(() => {});
    pool.query("SELECT 1").catch(() => {});
  };
  const timer = setInterval(tick, everyMs);
  // RELAY_BUSY_FOR_MS: the traffic stops after that long, the connections stay (idle) — what
  // those sockets taught V8's inline caches stays without the traffic's own CPU in the figures.
  const forMs = Number(process.env.RELAY_BUSY_FOR_MS ?? 0);
  if (forMs > 0) setTimeout(() => clearInterval(timer), forMs);
  return async () => {
    clearInterval(timer);
    await Promise.all([nats.close(), pool.end(), new Promise((done) => http.close(done))]);
  };
}

if (!isMainThread) {
  const stop = await startRelay();
  parentPort!.once("message", async () => {
    await stop();
    parentPort!.postMessage("stopped");
  });
  parentPort!.postMessage("listening");
} else {
  const stopBusy =
    process.env.RELAY_BUSY === "1" ? await startBusy(Number(process.env.RELAY_BUSY_MS ?? 100)) : undefined;
  let stopRelay: () => Promise<void>;
  if (process.env.RELAY_WORKER === "1") {
    const worker = new Worker(new URL(import.meta.url));
    worker.once("error", (err) => {
      process.stderr.write(`relay worker failed: ${err.message}\n`);
      process.exit(1);
    });
    await new Promise((resolve) => worker.once("message", resolve));
    stopRelay = async () => {
      worker.postMessage("stop");
      await new Promise((resolve) => worker.once("message", resolve));
      await worker.terminate();
    };
  } else stopRelay = await startRelay();
  process.once("SIGTERM", async () => {
    await Promise.all([stopRelay(), stopBusy?.()]);
    process.exit(0);
  });
  process.stdout.write("listening\n");
}
