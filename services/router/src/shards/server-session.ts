import { connect } from "node:net";
import type pg from "pg";
import { forgetPrepared } from "./prepared-statements.ts";
import { checkoutFresh } from "./server-pool.ts";

/**
 * The server did not answer a statement by the router's own deadline (a half-open socket, a
 * frozen host): its connection is dropped and the query cancelled. No SQLSTATE, so the shard is
 * reported unavailable and marked down.
 */
export class ServerDeadlineError extends Error {
  override readonly name = "ServerDeadlineError";
  readonly code = "SERVER_DEADLINE";
}

/** The HTTP request ended (the client went away, its socket timed out) before the shard answered. */
export class StatementAbortedError extends Error {
  override readonly name = "StatementAbortedError";
  /** query_canceled, as PostgreSQL says for a cancelled statement: a timeout, not a dead shard. */
  readonly code = "57014";
}

/**
 * Ends a session's statements early (the HTTP request ended): an AbortSignal's part that sessions
 * use, without an EventTarget per request. `onAbort` listeners run once, when it aborts.
 */
export interface StatementSignal {
  readonly aborted: boolean;
  onAbort(listener: () => void): void;
  offAbort(listener: () => void): void;
}

/** What bounds the statements of one session. */
export interface SessionLimits {
  /** Most time one statement may take before the router gives up on the server. */
  readonly deadlineMs: number;
  /** Ends every statement early (the HTTP request ended). */
  readonly signal?: StatementSignal | undefined;
  /**
   * The session ran caller SQL that may change session state: put it back in the pool only after
   * `DISCARD ALL` (settings, role, temp tables, prepared statements, advisory locks gone). Without
   * this a `SET default_transaction_read_only=off` outlives its request. A session left inside a
   * transaction is dropped either way.
   */
  readonly callerSql: boolean;
  /** Called for every reset the session sends (a metric). */
  readonly onReset?: (() => void) | undefined;
}

/** A checked-out connection whose every statement runs under the session's limits. */
export interface ServerSession {
  run<T>(submit: (client: pg.PoolClient) => Promise<T>): Promise<T>;
  /**
   * The session's last statement, with the reset of a caller-SQL session (`DISCARD ALL`) written
   * right behind it (pipelined): one round trip instead of two. Nothing may run after it.
   */
  runLast<T>(submit: (client: pg.PoolClient) => Promise<T>): Promise<T>;
}

/** pg's per-client pipeline switch (pg >= 8.21, lib/client.js), absent from @types/pg. */
interface PipelineSwitch {
  pipeline: boolean;
  readonly connection: { readonly stream: { cork(): void; uncork(): void } };
}

/**
 * How long past statement_timeout the router waits for a server before it gives up on it: enough
 * for a live server's own timeout error to arrive, so only a server that does not answer at all
 * meets the router's deadline.
 */
export const STATEMENT_DEADLINE_GRACE_MS = 2_000;

/** How long a cancel request or a reset may take before its socket is dropped. */
const HOUSEKEEPING_MS = 5_000;

/**
 * Runs `work` on a connection from `pool` (`server` is where cancel requests go). A statement past
 * its deadline, or still running when `signal` aborts, is cancelled on the server (a cancel
 * request on a new socket: the server stops working for nobody) and its connection destroyed,
 * so a server that never answers costs the request at most the deadline and never a pool slot.
 */
export async function withServerSession<T>(
  pool: pg.Pool,
  server: { readonly host: string; readonly port: number },
  limits: SessionLimits,
  work: (session: ServerSession) => Promise<T>,
): Promise<T> {
  const aborted = () =>
    new StatementAbortedError("the request ended before the shard answered; the query was cancelled");
  // Not the signal's own reason: an AbortError without SQLSTATE would mark a healthy server down.
  if (limits.signal?.aborted) throw aborted();
  const client = await checkoutFresh(pool);
  let broken: Error | undefined;
  // A checked-out connection that fails between statements emits 'error' (pool.query() listens for
  // it, pool.connect() leaves that to us): unheard, it would end the process.
  const onError = (err: Error) => {
    broken ??= err;
  };
  client.on("error", onError);
  // Caller SQL ran since the last reset: the session must be reset before the pool has it back.
  let dirty = false;
  // One timer and one abort listener per session, not per statement: the timer is restarted
  // (refresh) for each statement and ignored when it fires between statements.
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let stopped: Error | undefined;
  const stop = (err: Error) => {
    if (!running || broken) return;
    stopped = err;
    broken = err;
    cancelOnServer(server, client);
    // The statement's wait ends now: pg fails what it has queued once its socket has closed.
    destroyStream(client);
  };
  const onDeadline = () =>
    stop(
      new ServerDeadlineError(
        `the shard server did not answer within ${limits.deadlineMs} ms; the query was cancelled`,
      ),
    );
  const onAbort = () => stop(aborted());
  limits.signal?.onAbort(onAbort);
  const run = async <T>(submit: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    if (broken) throw broken;
    if (limits.signal?.aborted) {
      broken = aborted();
      throw broken;
    }
    if (timer === undefined) timer = setTimeout(onDeadline, limits.deadlineMs);
    else timer.refresh();
    running = true;
    dirty = limits.callerSql;
    try {
      return await submit(client);
    } catch (err) {
      // Stopped: pg reports the closed socket; the caller hears why it was closed.
      throw stopped ?? err;
    } finally {
      running = false;
    }
  };
  const session: ServerSession = {
    run,
    async runLast<T>(submit: (client: pg.PoolClient) => Promise<T>): Promise<T> {
      if (!limits.callerSql) return run(submit);
      return run(async (c) => {
        // Pipelined: the reset goes out right behind the statement, after its Sync, so it runs
        // outside the statement's implicit transaction (DISCARD ALL refuses to run inside one)
        // and also after a failed statement. A statement that leaves a transaction open makes
        // the reset fail, and the connection is dropped, as resetAndRelease does.
        const switchable = c as unknown as PipelineSwitch;
        switchable.pipeline = true;
        // Both submitted in this tick; corked, they leave in one write instead of two.
        const { stream } = switchable.connection;
        stream.cork();
        let statement: Promise<T>;
        let reset: Promise<unknown>;
        try {
          statement = submit(c);
          reset = c.query("DISCARD ALL");
          limits.onReset?.();
        } finally {
          stream.uncork();
        }
        const [outcome, resetOutcome] = await Promise.allSettled([statement, reset]);
        // pg reads the flag on every ReadyForQuery: off only once both answers are in.
        switchable.pipeline = false;
        if (resetOutcome.status === "fulfilled") {
          dirty = false;
          // DISCARD ALL dropped the connection's prepared statements on the server.
          forgetPrepared(c);
        } else
          broken ??=
            resetOutcome.reason instanceof Error
              ? resetOutcome.reason
              : new Error(String(resetOutcome.reason));
        if (outcome.status === "rejected") throw outcome.reason;
        return outcome.value;
      });
    },
  };
  try {
    return await work(session);
  } finally {
    clearTimeout(timer);
    limits.signal?.offAbort(onAbort);
    // A dropped connection keeps the listener: its socket's end may still report an error.
    if (!broken) client.off("error", onError);
    if (broken) {
      // The socket may be half-open: destroy it rather than wait for a goodbye it cannot deliver.
      destroyStream(client);
      client.release(broken);
    } else if (dirty) void resetAndRelease(client, limits.onReset);
    else if (client.getTransactionStatus() === "T" || client.getTransactionStatus() === "E") {
      // Not for the next request: without a reset nothing else would end the transaction.
      client.release(new Error("session left inside a transaction"));
    } else client.release();
  }
}

/**
 * `DISCARD ALL`, then back to the pool; a session inside a transaction or failing the reset is
 * dropped. Until the pool has it back, an 'error' the connection emits is heard here: a backend
 * terminated during the reset reports itself twice — to the query, then (the socket's end, in the
 * same tick) as an 'error' event, which unheard would end the process.
 */
async function resetAndRelease(client: pg.PoolClient, onReset: (() => void) | undefined): Promise<void> {
  const ignore = () => {};
  client.on("error", ignore);
  if (client.getTransactionStatus() !== "I") {
    client.release(new Error("session left inside a transaction"));
    return;
  }
  let released = false;
  const release = (err?: Error) => {
    if (released) return;
    released = true;
    // A dropped connection keeps the listener: its socket's end may still report an error.
    if (!err) client.off("error", ignore);
    client.release(err);
  };
  onReset?.();
  const timer = setTimeout(() => release(new Error("session reset did not answer")), HOUSEKEEPING_MS);
  try {
    await client.query("DISCARD ALL");
    forgetPrepared(client);
    release();
  } catch (err) {
    release(err instanceof Error ? err : new Error(String(err)));
  } finally {
    clearTimeout(timer);
  }
}

/** Closes the connection's socket at once (pg's stream, absent from @types/pg). */
function destroyStream(client: pg.PoolClient): void {
  (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
}

/** pg's backend key of a connection (BackendKeyData), absent from @types/pg. */
interface BackendKey {
  readonly processID: number | null;
  readonly secretKey: number | null;
}

/**
 * PostgreSQL's CancelRequest for the connection's backend, on a socket of its own, bounded: a
 * server that does not take it within HOUSEKEEPING_MS is left alone (its statement_timeout ends it).
 */
function cancelOnServer(
  server: { readonly host: string; readonly port: number },
  client: pg.PoolClient,
): void {
  const { processID, secretKey } = client as unknown as BackendKey;
  if (processID === null || secretKey === null) return;
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(80877102, 4);
  packet.writeInt32BE(processID, 8);
  packet.writeInt32BE(secretKey, 12);
  const socket = server.host.startsWith("/")
    ? connect(`${server.host}/.s.PGSQL.${server.port}`)
    : connect(server.port, server.host);
  socket.setTimeout(HOUSEKEEPING_MS, () => socket.destroy());
  socket.on("error", () => {});
  socket.on("connect", () => socket.end(packet));
}
