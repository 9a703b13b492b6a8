// The floor of a PostgreSQL hop written in Node: each client's bytes piped to a connection of its
// own to the server and back ('data' → write, both ways), nothing read, nothing pooled — what
// PgBouncer's session mode does, with Node's sockets. Its CPU per transaction, beside the
// router's and PgBouncer's, says how much of the router's cost any Node relay pays.
import { connect, createServer } from "node:net";

const serverPort = Number(process.env.SERVER_PORT);
const serverHost = process.env.SERVER_HOST ?? "127.0.0.1";

const server = createServer((client) => {
  client.setNoDelay(true);
  const upstream = connect(serverPort, serverHost);
  upstream.setNoDelay(true);
  client.on("data", (chunk) => upstream.write(chunk));
  upstream.on("data", (chunk) => client.write(chunk));
  const end = () => {
    client.destroy();
    upstream.destroy();
  };
  for (const socket of [client, upstream]) {
    socket.on("error", end);
    socket.on("close", end);
  }
});
process.once("SIGTERM", () => server.close(() => process.exit(0)));
server.listen(Number(process.env.PORT), "127.0.0.1", () => process.stdout.write("listening\n"));
