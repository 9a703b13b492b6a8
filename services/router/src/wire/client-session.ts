import { createHash } from "node:crypto";
import {
  BackendMessageType as B,
  backendMessage,
  FrontendMessageType as F,
  joinWrite,
  MESSAGE_BODY_OFFSET,
  type NoticeFields,
  parseBind,
  parseClose,
  parseDescribe,
  parseExecute,
  parseParse,
  parseQuery,
  protocolViolation,
  type SessionHandler,
  TransactionStatus,
  WireError,
  type WireMessage,
  type WireSession,
} from "@dbplane/pgwire";
import { PlanError, type StatementPlan } from "@dbplane/sqlroute";
import { FenceHoldAbortedError, FenceHoldError } from "../fence/fence-errors.ts";
import type { LiveMap } from "../shards/live-map.ts";
import { eligibleReplicas } from "../shards/server-selection.ts";
import {
  BIND_STATEMENT_AT,
  type BoundParameter,
  findBoundParameter,
  isOneQuery,
  preparedBatchEnd,
  renameBatchStatement,
} from "./client-batch.ts";
import { CopyIn, copyKeyColumnIndex } from "./copy-in.ts";
import { flushSoon } from "./flush-soon.ts";
import {
  type BoundParameters,
  defaultShard,
  shardOfBoundKey,
  shardOfKey,
  shardsOfKeys,
} from "./key-routing.ts";
import { type QueryShape, queryShape, shapedKeyAt } from "./query-shape.ts";
import type { ReadyWaiter, ServerConnection } from "./server-connection.ts";
import { SessionWrites } from "./session-writes.ts";
import { type Combine, type Combined, combineAnswers, type ShardAnswer } from "./shard-results.ts";
import { startupSetStatements } from "./startup-settings.ts";
import { Refusal, type Route, routeStatement } from "./statement-route.ts";
import type { WireContext, WirePathCounts } from "./wire-context.ts";
import { bindText, errorFields, frontend, renameBind, renameBindStatement } from "./wire-protocol.ts";

/** A message's work is under way and will resume the drain itself (no promise to wait for). */
const WAITING = Symbol("waiting");

/** What handling a message leaves: nothing (done), a promise of the rest, or WAITING. */
type Pending = Promise<void> | typeof WAITING | undefined;

/** A transaction block: its map version, and the shard connections it holds once it touched them. */
interface Transaction {
  /** Replaced by a newer one only while the scope is open (a write held by a fence, then planned again). */
  map: LiveMap;
  /** open: no shard yet; one: pinned to its first keyed shard; all: began on every shard. */
  scope: "open" | "one" | "all";
  readonly connections: Map<number, ServerConnection>;
  /** BEGIN (and SET LOCAL, SAVEPOINT) said before a shard was picked: replayed there first. */
  readonly prelude: string[];
  /** BEGIN READ ONLY: may run on a replica. */
  readonly readOnly: boolean;
}

/** A client's prepared statement: its plan, and the name it is prepared under on the servers. */
interface ClientStatement {
  readonly sql: string;
  readonly types: readonly number[];
  readonly plan: StatementPlan;
  readonly serverName: string;
  /** `serverName` NUL-terminated, as a Bind names it. */
  readonly serverNameBytes: Buffer;
}

type Portal =
  | { readonly kind: "server"; readonly connection: ServerConnection }
  | { readonly kind: "local"; readonly plan: StatementPlan }
  | {
      readonly kind: "many";
      readonly route: Route & { kind: "many" | "split" };
      readonly statement: ClientStatement;
      readonly bind: Buffer;
      /** Runs outside the open transaction (a read any shard answers, before it has a shard). */
      readonly outside: boolean;
      result?: Combined;
    };

/** Whether a statement only reads (a replica may answer it). */
function isRead(plan: StatementPlan): boolean {
  return (
    (plan.kind === "keyed" && !plan.write) ||
    plan.kind === "scatter" ||
    plan.kind === "any" ||
    plan.kind === "copy-out"
  );
}

/** The shards a route sends to. */
function routeShards(route: Route): number[] {
  if (route.kind === "one") return [route.shard];
  if (route.kind === "many") return [...route.shards];
  if (route.kind === "split") return [...route.parts.keys()];
  return [];
}

/**
 * One client connection to the wire endpoint: plans each statement, runs it on the shard(s) it
 * belongs to through transaction-mode pools, and answers as one PostgreSQL server would. Client
 * messages are handled one at a time, in order; server answers are relayed as they arrive.
 */
export class ClientSession implements SessionHandler {
  readonly parameters: Readonly<Record<string, string>>;
  readonly #client: WireSession;
  readonly #context: WireContext;
  readonly #database: string;
  readonly #queue: WireMessage[] = [];
  #draining = false;
  readonly #out: Buffer[] = [];
  #paused: ServerConnection[] = [];
  #closed = false;
  #status: TransactionStatus = TransactionStatus.Idle;
  #transaction: Transaction | undefined;
  /** Map version of the extended-protocol batch under way (until Sync). */
  #batchMap: LiveMap | undefined;
  /** The connection holding unsynced extended-protocol messages, if any. */
  #open: ServerConnection | undefined;
  /** Skipping extended-protocol messages until Sync, after an error. */
  #skipping = false;
  #copy: CopyIn | undefined;
  /**
   * The answer a server ended with ReadyForQuery, kept for `#ready`: its ReadyForQuery starts at
   * `#serverReadyAt`, and what comes before it (a chunk's rows and completions, see
   * `#relayChunk`) is not written yet — it goes out with the ReadyForQuery in one piece, or
   * ahead of whatever else is written first.
   */
  #serverReply: Buffer | undefined;
  #serverReadyAt = 0;
  readonly #statements = new Map<string, ClientStatement>();
  readonly #portals = new Map<string, Portal>();
  /** SET statements of the session, replayed on every connection it checks out. */
  readonly #settings = new Map<string, string>();
  /** `#settings` as one statement (what a checked-out connection must carry); kept in step with it. */
  #wanted = "";
  #shardKey: string | undefined;
  #allowScatterWrites = false;
  /** `SET dbplane.read_from`: reads outside transactions go to replicas. */
  #readFrom: "primary" | "replica" = "primary";
  #replicaTurn = 0;
  /**
   * Connections checked out by this session right now (for CancelRequest and close): one or a
   * few, so an array — a Set's add and delete per statement cost more, and its delete of the
   * last entry reallocates its table.
   */
  readonly #held: ServerConnection[] = [];
  /** The shards this session writes to now, admitted by the write fence. */
  readonly #writes: SessionWrites;
  /** The endpoint's path counts (metrics), incremented in place. */
  readonly #paths: WirePathCounts;

  constructor(client: WireSession, context: WireContext, parameters: Readonly<Record<string, string>>) {
    this.#client = client;
    this.#context = context;
    this.#database = client.parameters.database;
    this.parameters = parameters;
    this.#writes = new SessionWrites(context.fence, this.#database);
    this.#paths = context.metrics.paths;
    for (const [name, statement] of startupSetStatements(client.parameters.all))
      this.#settings.set(name, statement);
    this.#wanted = [...this.#settings.values()].join("; ");
  }

  message(message: WireMessage): void {
    this.#queue.push(message);
    if (this.#queue.length > 1000) this.#client.pause();
    if (!this.#draining) this.#drain();
  }

  /**
   * A chunk that is one of the common batches, when nothing else is under way, goes to its shard
   * as it is (a prepared statement's Bind…Sync with only the statement renamed; a one-statement
   * Query unchanged): no messages framed, no queue, no portal. False: framed and queued as usual.
   */
  chunk(chunk: Buffer): boolean {
    if (
      this.#draining ||
      this.#closed ||
      this.#copy !== undefined ||
      this.#open !== undefined ||
      this.#batchMap !== undefined ||
      this.#skipping ||
      this.#queue.length > 0
    ) {
      this.#paths.message++;
      return false;
    }
    if (isOneQuery(chunk)) {
      // Set first: a connection found closed ends the query (and the drain) before this returns.
      this.#draining = true;
      if (this.#shapedQueryNow(chunk)) {
        this.#paths.simpleShape++;
        return true;
      }
      const sql = chunk.toString("utf8", MESSAGE_BODY_OFFSET, chunk.length - 1);
      if (this.#queryNow(chunk, sql) !== undefined) {
        this.#paths.simpleQuery++;
        return true;
      }
      this.#draining = false;
      this.#paths.message++;
      return false;
    }
    const statementEnd = preparedBatchEnd(chunk);
    if (statementEnd > 0 && this.#preparedBatch(chunk, statementEnd)) {
      this.#paths.preparedBatch++;
      return true;
    }
    this.#paths.message++;
    return false;
  }

  close(): void {
    this.#closed = true;
    this.#context.metrics.clientClosed(this.#database);
    this.#context.onClosed();
    for (const connection of [...this.#held]) this.#release(connection);
    this.#transaction = undefined;
    this.#writes.cancel();
    this.#writes.releaseAll();
  }

  /** Forwards a CancelRequest to every server connection running something for this client. */
  cancel(): void {
    this.#writes.cancel();
    for (const connection of this.#held) {
      if (connection.owed > 0) void connection.backend.cancel().catch(() => {});
    }
  }

  /**
   * Handles queued messages in order. A message whose work waits (a promise, or a Sync's
   * ReadyForQuery on the callback path) stops the loop, `#draining` still set, until that work
   * resumes it: the next message never overtakes the one before.
   */
  #drain(): void {
    this.#draining = true;
    for (let message = this.#queue.shift(); message; message = this.#queue.shift()) {
      if (this.#closed) break;
      if (this.#queue.length === 500) this.#client.resume();
      let pending: Pending;
      try {
        // The common messages (Bind, Describe, Execute, Sync of a one-shard statement) are
        // handled without a promise when they can be.
        pending = this.#handle(message);
      } catch (error) {
        this.#failSession(error);
        return;
      }
      if (pending === undefined) continue;
      if (pending !== WAITING) pending.then(this.#resumeDrain, this.#failSession);
      return;
    }
    this.#draining = false;
  }

  readonly #resumeDrain = (): void => this.#drain();

  /**
   * Ends a wait of the drain from a server's callback: the queued messages are handled after the
   * rest of the server's chunk has gone to the batch's receiver, as an awaited promise would
   * resume; with none queued the drain just stops (the next chunk read starts it again).
   */
  #resumeLater(): void {
    if (this.#queue.length === 0) this.#draining = false;
    else queueMicrotask(this.#resumeDrain);
  }

  /** What no statement error covers (a protocol violation, our own bug): FATAL, connection ends. */
  readonly #failSession = (error: unknown): void => {
    this.#draining = false;
    if (this.#closed) return;
    if (!(error instanceof WireError)) this.#context.onError(error);
    this.#flushOut();
    this.#client.end(
      error instanceof WireError
        ? { ...error.fields, severity: "FATAL" }
        : { severity: "FATAL", code: "XX000", message: "internal error" },
    );
  };

  /**
   * Queues bytes for the client: whatever is written while one batch of work is handled goes
   * out as one write (answers are small and many; one segment each would cost more than them).
   */
  #write(bytes: Buffer): void {
    if (this.#closed) return;
    if (this.#serverReadyAt !== 0) this.#writeReplyHead();
    this.#out.push(bytes);
    if (this.#out.length === 1) flushSoon(this.#flushOut);
  }

  readonly #flushOut = (): void => {
    const out = this.#out;
    if (out.length === 0 || this.#closed) return;
    // One piece (a server's answer relayed whole, the usual): popped, the array kept.
    const bytes = out.length === 1 ? out.pop()! : joinWrite(out);
    if (out.length !== 0) out.length = 0;
    if (this.#client.write(bytes) || this.#paused.length > 0) return;
    // The client reads slower than the shards answer (a large result, COPY TO): stop reading
    // from the shards until its socket drains, rather than holding the rows in memory.
    this.#paused = [...this.#held];
    for (const connection of this.#paused) connection.backend.pause();
    this.#client.onceDrained(() => {
      for (const connection of this.#paused) connection.backend.resume();
      this.#paused = [];
    });
  };

  /** Writes the part of the kept server answer before its ReadyForQuery (something follows it). */
  #writeReplyHead(): void {
    this.#paths.replySplit++;
    this.#replyFromChunk = false;
    const reply = this.#serverReply!;
    const readyAt = this.#serverReadyAt;
    this.#serverReply = reply.subarray(readyAt);
    this.#serverReadyAt = 0;
    this.#out.push(reply.subarray(0, readyAt));
    if (this.#out.length === 1) flushSoon(this.#flushOut);
  }

  /** ReadyForQuery ends a batch: the client waits for it, so it goes out now. */
  #ready(): void {
    // Outside a transaction, the statements (or the batch) this answers have ended on the servers.
    if (!this.#transaction) this.#writes.releaseAll();
    const reply = this.#serverReply;
    const readyAt = this.#serverReadyAt;
    this.#serverReply = undefined;
    this.#serverReadyAt = 0;
    const fromChunk = this.#replyFromChunk;
    this.#replyFromChunk = false;
    if (this.#closed) return;
    // The server's answer as it came (one view, no copy) when its status is the session's.
    if (reply !== undefined && reply[readyAt + MESSAGE_BODY_OFFSET] === this.#status.charCodeAt(0)) {
      if (fromChunk) this.#paths.replyWhole++;
      this.#out.push(reply);
    } else {
      if (fromChunk) this.#paths.replySplit++;
      if (readyAt !== 0) this.#out.push(reply!.subarray(0, readyAt));
      this.#out.push(backendMessage.readyForQuery(this.#status));
    }
    this.#flushOut();
  }

  #handle(message: WireMessage): Pending {
    if (this.#copy !== undefined) return this.#copyMessage(message);
    const type = message.type;
    if (type === F.Bind || type === F.Execute || type === F.Describe) {
      if (this.#skipping) return;
      let pending: Promise<void> | undefined;
      try {
        pending =
          type === F.Bind
            ? this.#bindNow(message)
            : type === F.Execute
              ? this.#executeNow(message)
              : this.#describeNow(message);
      } catch (error) {
        return this.#extendedError(error);
      }
      return pending?.catch((error) => this.#extendedError(error));
    }
    if (type === F.Sync && this.#open !== undefined) return this.#syncNow(this.#open);
    if (type === F.Query) {
      const sql = parseQuery(message).sql;
      return this.#queryNow(message.bytes, sql) ?? this.#simpleQuery(sql);
    }
    return this.#handleAsync(message);
  }

  async #handleAsync(message: WireMessage): Promise<void> {
    switch (message.type) {
      case F.Parse:
      case F.Bind:
      case F.Describe:
      case F.Execute:
      case F.Close:
      case F.Flush:
        if (this.#skipping) return;
        try {
          await this.#extended(message);
        } catch (error) {
          await this.#extendedError(error);
        }
        return;
      case F.Sync:
        await this.#sync();
        return;
      case F.CopyData:
      case F.CopyDone:
      case F.CopyFail:
        // Not in a COPY: the protocol says to ignore them.
        return;
      case F.FunctionCall:
        this.#write(
          backendMessage.errorResponse(
            errorFields("0A000", "function calls are not supported by the router"),
          ),
        );
        this.#ready();
        return;
      default:
        throw protocolViolation(`invalid frontend message type ${message.type}`);
    }
  }

  // ---------------------------------------------------------------- maps, plans, connections

  #currentMap(): LiveMap {
    if (this.#transaction) return this.#transaction.map;
    if (this.#batchMap) return this.#batchMap;
    const map = this.#context.maps.get(this.#database);
    if (!map) throw new Refusal(errorFields("3D000", `database "${this.#database}" does not exist`));
    return map;
  }

  /**
   * A connection to a shard: a replica's for a read when the session reads from replicas (or
   * the transaction is read-only) and one is up within the lag bound, else the primary's.
   */
  async #checkout(map: LiveMap, shard: number, read = false): Promise<ServerConnection> {
    const live = map.shards.get(shard);
    if (!live) throw new Refusal(errorFields("XX000", `shard ${shard} is not in the map`));
    const transaction = this.#transaction;
    const fromReplica = read && (transaction ? transaction.readOnly : this.#readFrom === "replica");
    const replicas = fromReplica ? eligibleReplicas(live, this.#context.maxReplicaLagMs) : [];
    const replica = replicas[this.#replicaTurn++ % Math.max(replicas.length, 1)];
    const pool =
      replica === undefined
        ? this.#context.pools.primary(map, live)
        : this.#context.pools.replica(map, live, replica.address);
    const connection = await pool.checkout();
    this.#held.push(connection);
    // The session's SETs, applied only where the connection's last client left others.
    const wanted = this.#wanted;
    if (connection.settings !== wanted) {
      const reset = connection.settings === "" ? [] : ["RESET ALL"];
      const error = await connection.run([...reset, ...(wanted === "" ? [] : [wanted])].join("; "));
      if (error) {
        connection.settings = undefined;
        this.#release(connection);
        throw new Refusal(error);
      }
      connection.settings = wanted;
    }
    return connection;
  }

  #release(connection: ServerConnection): void {
    const held = this.#held;
    const at = held.indexOf(connection);
    if (at < 0) return;
    held[at] = held[held.length - 1]!;
    held.pop();
    if (this.#paused.includes(connection)) {
      this.#paused = this.#paused.filter((c) => c !== connection);
      connection.backend.resume();
    }
    connection.home.release(connection);
  }

  /**
   * The connection a statement for `shard` runs on: the transaction's (pinning it on first use),
   * the batch's open one, or a fresh checkout.
   * @throws Refusal 0A000 when a transaction pinned to one shard reaches for another
   */
  async #connectionFor(shard: number, read = false): Promise<ServerConnection> {
    const transaction = this.#transaction;
    if (transaction) {
      const held = transaction.connections.get(shard);
      if (held) return held;
      if (transaction.scope === "open") {
        const connection = await this.#checkout(transaction.map, shard, transaction.readOnly);
        transaction.connections.set(shard, connection);
        transaction.scope = "one";
        await this.#begin(connection, transaction);
        return connection;
      }
      const pinned = [...transaction.connections.keys()][0];
      throw new Refusal(
        errorFields("0A000", "a transaction cannot span shards", {
          hint: `This transaction runs on shard ${pinned}; this statement belongs to shard ${shard}. Keep a transaction's statements to one shard key, or commit before changing keys.`,
        }),
      );
    }
    // A replica's connection serves reads only; a primary's serves anything.
    if (this.#open?.shard === shard && (read || !this.#open.replica)) return this.#open;
    await this.#settle();
    return this.#checkout(this.#currentMap(), shard, read);
  }

  /** Connections on every listed shard (a transaction begins on all of them at its first such statement). */
  async #connectionsFor(shards: readonly number[], read = false): Promise<ServerConnection[]> {
    const transaction = this.#transaction;
    if (!transaction) {
      await this.#settle();
      const map = this.#currentMap();
      const connections: ServerConnection[] = [];
      try {
        // In index order, as every session does: two sessions never wait on each other's pools.
        for (const shard of shards) connections.push(await this.#checkout(map, shard, read));
      } catch (error) {
        for (const connection of connections) this.#release(connection);
        throw error;
      }
      return connections;
    }
    if (transaction.scope === "one") {
      const pinned = [...transaction.connections.keys()][0]!;
      if (shards.length === 1 && shards[0] === pinned) return [transaction.connections.get(pinned)!];
      throw new Refusal(
        errorFields("0A000", "a transaction cannot span shards", {
          hint: `This transaction runs on shard ${pinned}; this statement needs shards ${shards.join(", ")}. Run it outside the transaction, or as the transaction's first statement.`,
        }),
      );
    }
    if (transaction.scope === "open") {
      transaction.scope = "all";
      for (const shard of transaction.map.serving) {
        const connection = await this.#checkout(transaction.map, shard, transaction.readOnly);
        transaction.connections.set(shard, connection);
        await this.#begin(connection, transaction);
      }
    }
    return shards.map((shard) => transaction.connections.get(shard)!);
  }

  async #begin(connection: ServerConnection, transaction: Transaction): Promise<void> {
    for (const sql of transaction.prelude) {
      const error = await connection.run(sql);
      if (error) throw new Refusal(error);
    }
  }

  /** Releases connections used for one statement outside a transaction. */
  #done(connections: readonly ServerConnection[]): void {
    if (this.#transaction) {
      if ([...this.#transaction.connections.values()].some((c) => c.status === TransactionStatus.Failed)) {
        this.#status = TransactionStatus.Failed;
      }
      return;
    }
    for (const connection of connections) if (connection !== this.#open) this.#release(connection);
  }

  /** `#done` of one connection (a callback path's, once per batch: no array). */
  #doneWith(connection: ServerConnection): void {
    if (this.#transaction) this.#done([connection]);
    else if (connection !== this.#open) this.#release(connection);
  }

  #fail(fields: NoticeFields): void {
    this.#write(backendMessage.errorResponse(fields));
    if (this.#transaction) this.#status = TransactionStatus.Failed;
  }

  #planner(map: LiveMap) {
    return this.#context.planners.of(map);
  }

  // ---------------------------------------------------------------- write fence

  /**
   * Whether the write fence must admit the statement: what the planner does not call a read,
   * and every statement of a read-write transaction (it may write later on the shard it begins
   * on) but a read any shard answers before the transaction has one (it runs outside).
   */
  #mayWrite(plan: StatementPlan): boolean {
    const transaction = this.#transaction;
    if (!transaction) return !isRead(plan);
    return !transaction.readOnly && !(plan.kind === "any" && transaction.scope === "open");
  }

  /**
   * The statement's route once the write fence admits it. Held: the batch's open connection is
   * settled, and after each wait the statement is routed again under the newest map (a
   * transaction's only while it has no shard yet), so a keyed write goes to its key's owner by
   * the map the fence was lifted for.
   */
  async #admitted(plan: StatementPlan, routeOf: (map: LiveMap) => Route): Promise<Route> {
    const map = this.#currentMap();
    let route = routeOf(map);
    if (this.#spansShards(route)) return route;
    if (!this.#mayWrite(plan)) return this.#readAdmitted(map, route, routeOf);
    if (this.#writes.tryAdmit({ mapVersion: map.version, shards: routeShards(route) })) return route;
    await this.#settle();
    await this.#writes.admit(() => {
      const latest = this.#latestMap();
      route = routeOf(latest);
      return { mapVersion: latest.version, shards: routeShards(route) };
    });
    return route;
  }

  /**
   * A read goes at once unless a cut-over holds reads of its shards (a fence raised with
   * `reads`, or lifted for a map newer than the one it was planned by): then it waits, and is
   * routed again under the newest map. Reads are never tracked.
   */
  async #readAdmitted(map: LiveMap, route: Route, routeOf: (map: LiveMap) => Route): Promise<Route> {
    const { fence } = this.#context;
    if (!fence.holdsRead(this.#database, map.version, routeShards(route))) return route;
    await this.#settle();
    await fence.admit(this.#database, () => {
      const latest = this.#latestMap();
      route = routeOf(latest);
      return { mapVersion: latest.version, shards: routeShards(route), read: true };
    });
    return route;
  }

  /** A statement the transaction's pinned shard refuses ("cannot span shards"): nothing to hold. */
  #spansShards(route: Route): boolean {
    const transaction = this.#transaction;
    if (transaction?.scope !== "one") return false;
    return routeShards(route).some((shard) => !transaction.connections.has(shard));
  }

  /** The newest map, made the transaction's (no shard yet) or the batch's. */
  #latestMap(): LiveMap {
    const transaction = this.#transaction;
    if (transaction && transaction.scope !== "open") return transaction.map;
    const latest = this.#context.maps.get(this.#database);
    if (!latest) throw new Refusal(errorFields("3D000", `database "${this.#database}" does not exist`));
    if (transaction) transaction.map = latest;
    else if (this.#batchMap) this.#batchMap = latest;
    return latest;
  }

  // ---------------------------------------------------------------- routing

  /** Where a planned statement runs, given its bound parameters (extended protocol). */
  #route(map: LiveMap, plan: StatementPlan, parameters?: BoundParameters): Route {
    const transaction = this.#transaction;
    return routeStatement(
      map,
      plan,
      {
        shardKey: this.#shardKey,
        allowScatterWrites: this.#allowScatterWrites,
        pinned: transaction?.scope === "one" ? [...transaction.connections.keys()][0] : undefined,
      },
      parameters,
    );
  }

  // ---------------------------------------------------------------- simple query

  /**
   * A simple query of one statement for one shard outside a transaction, when an idle
   * connection needing no SETs is at hand and no fence holds it: the client's Query goes as it
   * is, the answers are relayed, and `#queryWaiter` ends it at ReadyForQuery — no promise.
   * Undefined when anything else applies (the asynchronous path then does all of it).
   */
  #queryNow(query: Buffer, sql: string): typeof WAITING | undefined {
    if (this.#open !== undefined || this.#batchMap !== undefined || this.#transaction) return;
    const map = this.#context.maps.get(this.#database);
    if (!map) return;
    let plan: StatementPlan;
    let route: Route;
    try {
      const plans = this.#planner(map).planQuery(sql);
      if (plans.length !== 1) return;
      plan = plans[0]!;
      if (plan.kind !== "keyed" && plan.kind !== "any") return;
      route = this.#route(map, plan);
    } catch {
      return; // the asynchronous path answers the error
    }
    if (route.kind !== "one") return;
    if (this.#sendQuery(query, map, plan.kind, isRead(plan), route.shard) === undefined) return;
    // The next query of the same shape (another key) is routed from its bytes.
    if (this.#queryShape === undefined || shapedKeyAt(query, this.#queryShape) < 0) {
      this.#queryShape = queryShape(query, plan, this.#planner(map));
    }
    return WAITING;
  }

  /** The shape of the session's last keyed simple query, if it has one (see `queryShape`). */
  #queryShape: QueryShape | undefined;

  /**
   * `#queryNow` of a query shaped as the session's last keyed one, for another key: routed by
   * that key without decoding or planning the text (a hit of the plan cache, counted as one).
   */
  #shapedQueryNow(query: Buffer): boolean {
    const shape = this.#queryShape;
    if (shape === undefined || this.#open !== undefined || this.#batchMap !== undefined || this.#transaction)
      return false;
    const map = this.#context.maps.get(this.#database);
    if (map === undefined || this.#planner(map) !== shape.owner) return false;
    const keyAt = shapedKeyAt(query, shape);
    if (keyAt < 0) return false;
    const keyLength = query.length - shape.tail.length - keyAt;
    const shard = shardOfBoundKey(map, shape.keyType, query, keyAt, keyLength, 0);
    if (this.#sendQuery(query, map, "keyed", !shape.write, shard) === undefined) return false;
    this.#context.planners.countHit();
    return true;
  }

  /**
   * Sends a one-shard simple query as it is, when the fence lets it go and an idle connection
   * carrying the session's SETs is at hand; its answers are relayed and `#queryWaiter` ends it.
   */
  #sendQuery(
    query: Buffer,
    map: LiveMap,
    kind: StatementPlan["kind"],
    read: boolean,
    shard: number,
  ): typeof WAITING | undefined {
    if (read && this.#context.fence.holdsRead(this.#database, map.version, [shard])) return;
    const connection = this.#connectionNow(map, shard, read);
    if (connection === undefined) return;
    if (!read && !this.#writes.tryAdmit({ mapVersion: map.version, shards: [shard] })) {
      this.#release(connection);
      return;
    }
    this.#context.metrics.routed(this.#database, kind);
    this.#querying = connection;
    connection.relayTo(this.#relayQuery, this.#relayChunk);
    connection.requestWith(query, this.#queryWaiter);
    return WAITING;
  }

  /** The connection a simple query on the callback path waits for. */
  #querying: ServerConnection | undefined;

  /** Relays a simple query's answers but ReadyForQuery (the session writes its own). */
  readonly #relayQuery = (message: WireMessage): void => {
    if (message.type === B.ReadyForQuery) {
      this.#paths.replyMessage++;
      this.#keepReply(message.bytes, 0);
    } else this.#write(message.bytes);
  };

  readonly #queryWaiter: ReadyWaiter = {
    resolve: () => this.#queried(undefined),
    reject: (error) => this.#queried(error),
  };

  #queried(error: Error | undefined): void {
    const connection = this.#querying!;
    this.#querying = undefined;
    try {
      this.#doneWith(connection);
      if (error !== undefined) this.#answerError(error);
      this.#ready();
    } catch (thrown) {
      this.#failSession(thrown);
      return;
    }
    this.#resumeLater();
  }

  async #simpleQuery(sql: string): Promise<void> {
    await this.#settle();
    this.#batchMap = undefined;
    try {
      const map = this.#currentMap();
      const plans = this.#planner(map).planQuery(sql);
      if (plans.length === 0) this.#write(backendMessage.emptyQueryResponse());
      for (const plan of plans) {
        this.#context.metrics.routed(this.#database, plan.kind);
        if (!(await this.#statement(plan))) break;
        if (this.#copy) return; // ReadyForQuery follows CopyDone
      }
    } catch (error) {
      this.#answerError(error);
    }
    this.#ready();
  }

  #answerError(error: unknown): void {
    if (error instanceof Refusal) this.#fail(error.fields);
    else if (error instanceof FenceHoldError) {
      // 40001 (serialization_failure), not 57P03 (cannot_connect_now): the statement never ran,
      // the session stays connected, and 40001 is what drivers, ORMs and poolers already retry
      // as "run the transaction again" — the right move once the split's cut-over is over.
      // 57P03 speaks of a server refusing connections; clients treat it as a reason to reconnect.
      this.#fail(
        errorFields("40001", error.message, {
          hint: "The shard is being split; retry the transaction in a moment.",
        }),
      );
    } else if (error instanceof FenceHoldAbortedError) {
      this.#fail(errorFields("57014", "canceling statement due to user request"));
    } else if (error instanceof PlanError) {
      this.#fail({
        severity: "ERROR",
        code: error.code,
        message: error.message,
        ...(error.position === undefined ? {} : { position: String(error.position) }),
        ...(error.hint === undefined ? {} : { hint: error.hint }),
      });
    } else if (error instanceof WireError && error.fields.severity !== "FATAL") this.#fail(error.fields);
    else if (error instanceof WireError || (error instanceof Error && !(error instanceof TypeError))) {
      // A shard unreachable, a pool exhausted: the client's statement failed, the session lives.
      this.#fail(errorFields("08006", `cannot reach the shard: ${(error as Error).message}`));
    } else throw error;
  }

  /** Runs one statement of a simple query; false when it failed (the rest of the query is skipped). */
  async #statement(plan: StatementPlan): Promise<boolean> {
    if (this.#status === TransactionStatus.Failed && plan.kind !== "transaction") {
      this.#fail(
        errorFields(
          "25P02",
          "current transaction is aborted, commands ignored until end of transaction block",
        ),
      );
      return false;
    }
    if (plan.kind === "transaction") return this.#transactionStatement(plan);
    if (plan.kind === "set") return this.#set(plan);
    if (plan.kind === "empty") {
      this.#write(backendMessage.emptyQueryResponse());
      return true;
    }
    if (plan.kind === "copy-in") return this.#startCopyIn(plan);
    const route = await this.#admitted(plan, (map) => this.#route(map, plan));
    if (route.kind === "one" && plan.kind === "any" && this.#transaction?.scope === "open") {
      return this.#runStandalone(route.shard, frontend.query(plan.sql));
    }
    const read = isRead(plan);
    if (route.kind === "one") return this.#runOne(route.shard, frontend.query(plan.sql), read);
    if (route.kind === "many") {
      const connections = await this.#connectionsFor(route.shards, read);
      const request = frontend.query(route.sql ?? plan.sql);
      try {
        return !(
          await this.#runMany(
            connections,
            connections.map(() => request),
            route.combine,
          )
        ).failed;
      } finally {
        this.#done(connections);
      }
    }
    if (route.kind === "split") {
      const shards = [...route.parts.keys()].sort((a, b) => a - b);
      const connections = await this.#connectionsFor(shards);
      const requests = shards.map((shard) => {
        const part = route.parts.get(shard)!;
        return Buffer.concat([
          frontend.parse("", part.sql, []),
          bindText(part.params),
          frontend.describe("P", ""),
          frontend.execute(""),
          frontend.sync(),
        ]);
      });
      try {
        return !(await this.#runMany(connections, requests, { kind: "sum" })).failed;
      } finally {
        this.#done(connections);
      }
    }
    return true;
  }

  /** Runs a request on one shard, relaying its answer (ReadyForQuery excepted) as it comes. */
  async #runOne(shard: number, request: Buffer, read = false): Promise<boolean> {
    return this.#relay(await this.#connectionFor(shard, read), request);
  }

  async #relay(connection: ServerConnection, request: Buffer): Promise<boolean> {
    const ok = await this.#forward(connection, request, () => this.#done([connection]));
    if (!ok && this.#transaction) this.#status = TransactionStatus.Failed;
    return ok;
  }

  /**
   * Sends `request` on `connection` and relays every answer but ReadyForQuery to the client;
   * `giveBack` returns the connection however it ends. False when the server answered an error.
   */
  async #forward(connection: ServerConnection, request: Buffer, giveBack: () => void): Promise<boolean> {
    let failed = false;
    connection.receiver = (message) => {
      if (message.type === B.ReadyForQuery) return;
      if (message.type === B.ErrorResponse) failed = true;
      this.#write(message.bytes);
    };
    try {
      await connection.request(request);
    } finally {
      giveBack();
    }
    return !failed;
  }

  /** A read any shard can answer, in a transaction that has no shard yet: runs outside it. */
  async #runStandalone(shard: number, request: Buffer): Promise<boolean> {
    const connection = await this.#checkout(this.#transaction!.map, shard, true);
    const ok = await this.#forward(connection, request, () => this.#release(connection));
    if (!ok) this.#status = TransactionStatus.Failed;
    return ok;
  }

  /** Runs requests on several shards at once, collects their answers and writes the combined one. */
  async #runMany(
    connections: readonly ServerConnection[],
    requests: readonly Buffer[],
    combine: Combine,
  ): Promise<Combined> {
    const answers = await this.#collect(connections, requests);
    const result = combineAnswers(answers, combine);
    if (result.description) this.#write(result.description);
    for (const bytes of result.body) this.#write(bytes);
    if (result.failed && this.#transaction) this.#status = TransactionStatus.Failed;
    return result;
  }

  async #collect(
    connections: readonly ServerConnection[],
    requests: readonly Buffer[],
  ): Promise<ShardAnswer[]> {
    const answers: WireMessage[][] = connections.map(() => []);
    await Promise.all(
      connections.map((connection, i) => {
        connection.receiver = (message) => {
          if (message.type !== B.ReadyForQuery) answers[i]!.push(message);
        };
        return connection.request(requests[i]!);
      }),
    );
    return answers;
  }

  // ---------------------------------------------------------------- transactions and SET

  async #transactionStatement(plan: StatementPlan & { kind: "transaction" }): Promise<boolean> {
    const transaction = this.#transaction;
    switch (plan.action) {
      case "begin":
        if (transaction) {
          this.#write(
            backendMessage.noticeResponse({
              severity: "WARNING",
              code: "25001",
              message: "there is already a transaction in progress",
            }),
          );
        } else {
          this.#transaction = {
            map: this.#currentMap(),
            scope: "open",
            connections: new Map(),
            prelude: [plan.sql],
            readOnly: plan.readOnly,
          };
          this.#status = TransactionStatus.InTransaction;
        }
        this.#write(backendMessage.commandComplete("BEGIN"));
        return true;
      case "commit":
      case "rollback":
        return this.#endTransaction(plan);
      case "prepare":
        this.#fail(errorFields("0A000", "PREPARE TRANSACTION is not supported by the router"));
        return false;
      default:
        return this.#savepoint(plan);
    }
  }

  async #endTransaction(plan: StatementPlan & { kind: "transaction" }): Promise<boolean> {
    const transaction = this.#transaction;
    const rollback = plan.action === "rollback" || this.#status === TransactionStatus.Failed;
    if (!transaction) {
      this.#write(
        backendMessage.noticeResponse({
          severity: "WARNING",
          code: "25P01",
          message: "there is no transaction in progress",
        }),
      );
      this.#write(backendMessage.commandComplete(rollback ? "ROLLBACK" : "COMMIT"));
      return true;
    }
    const connections = [...transaction.connections.values()];
    const refused =
      rollback || transaction.readOnly || connections.length === 0 ? undefined : await this.#commitRefused();
    this.#transaction = undefined;
    this.#status = TransactionStatus.Idle;
    let ok = true;
    if (connections.length === 0) {
      this.#write(backendMessage.commandComplete(rollback ? "ROLLBACK" : "COMMIT"));
    } else {
      const request = frontend.query(rollback || refused ? "ROLLBACK" : plan.sql);
      try {
        if (refused) {
          // As PostgreSQL answers a COMMIT that fails: an error, and the transaction is gone.
          await this.#collect(
            connections,
            connections.map(() => request),
          );
          this.#fail(refused);
          ok = false;
        } else {
          const result = await this.#runMany(
            connections,
            connections.map(() => request),
            { kind: "first" },
          );
          ok = !result.failed;
        }
      } finally {
        for (const connection of connections) this.#release(connection);
        this.#writes.releaseAll();
      }
    }
    for (const name of [...this.#portals.keys()]) this.#portals.delete(name);
    return ok;
  }

  /**
   * Why a read-write transaction may not commit now, if it may not: this replica's lease lapsed
   * and did not come back within the max hold (or the client cancelled the wait).
   */
  async #commitRefused(): Promise<NoticeFields | undefined> {
    try {
      await this.#writes.whileAdmitting();
      return undefined;
    } catch (error) {
      if (error instanceof FenceHoldError) {
        return errorFields("40001", `could not commit, rolled back: ${error.message}`, {
          hint: "This router replica lost touch with its peers; retry the transaction.",
        });
      }
      if (error instanceof FenceHoldAbortedError)
        return errorFields("57014", "canceling statement due to user request");
      throw error;
    }
  }

  async #savepoint(plan: StatementPlan & { kind: "transaction" }): Promise<boolean> {
    const transaction = this.#transaction;
    const tag =
      plan.action === "savepoint" ? "SAVEPOINT" : plan.action === "release" ? "RELEASE" : "ROLLBACK";
    if (transaction?.scope === "open") {
      if (this.#status === TransactionStatus.Failed && plan.action !== "rollback-to") {
        this.#fail(
          errorFields(
            "25P02",
            "current transaction is aborted, commands ignored until end of transaction block",
          ),
        );
        return false;
      }
      transaction.prelude.push(plan.sql);
      if (plan.action === "rollback-to") this.#status = TransactionStatus.InTransaction;
      this.#write(backendMessage.commandComplete(tag));
      return true;
    }
    if (!transaction) return this.#runOne(defaultShard(this.#currentMap()), frontend.query(plan.sql));
    const connections = [...transaction.connections.values()];
    const request = frontend.query(plan.sql);
    const result = await this.#runMany(
      connections,
      connections.map(() => request),
      { kind: "first" },
    );
    if (!result.failed) {
      this.#status = connections.some((c) => c.status === TransactionStatus.Failed)
        ? TransactionStatus.Failed
        : TransactionStatus.InTransaction;
    }
    return !result.failed;
  }

  async #set(plan: StatementPlan & { kind: "set" }): Promise<boolean> {
    const name = plan.name.toLowerCase();
    const tag = plan.value === null ? "RESET" : "SET";
    if (name.startsWith("dbplane.")) {
      if (name === "dbplane.shard_key") this.#shardKey = plan.value ?? undefined;
      else if (name === "dbplane.allow_scatter_writes") {
        this.#allowScatterWrites = plan.value !== null && /^(on|true|1|yes)$/i.test(plan.value);
      } else if (name === "dbplane.read_from") {
        const value = (plan.value ?? "primary").toLowerCase();
        if (value !== "primary" && value !== "replica") {
          this.#fail(
            errorFields("22023", `invalid value for parameter "dbplane.read_from": "${plan.value}"`, {
              hint: "Use primary or replica.",
            }),
          );
          return false;
        }
        this.#readFrom = value;
      } else {
        this.#fail(errorFields("42704", `unrecognized configuration parameter "${plan.name}"`));
        return false;
      }
      this.#write(backendMessage.commandComplete(tag));
      return true;
    }
    const transaction = this.#transaction;
    if (transaction?.scope === "open") {
      transaction.prelude.push(plan.sql);
      if (!plan.local) this.#remember(name, plan);
      this.#write(backendMessage.commandComplete(tag));
      return true;
    }
    let ok: boolean;
    if (transaction) {
      const connections = [...transaction.connections.values()];
      const request = frontend.query(plan.sql);
      ok = !(
        await this.#runMany(
          connections,
          connections.map(() => request),
          { kind: "first" },
        )
      ).failed;
      for (const connection of connections) connection.settings = undefined;
    } else {
      // Run on one shard to have PostgreSQL check the name and value, then remember it.
      const connection = await this.#connectionFor(defaultShard(this.#currentMap()));
      connection.settings = undefined;
      ok = await this.#relay(connection, frontend.query(plan.sql));
    }
    if (ok && !plan.local) this.#remember(name, plan);
    return ok;
  }

  #remember(name: string, plan: StatementPlan & { kind: "set" }): void {
    if (plan.value === null && name === "all") this.#settings.clear();
    else if (plan.value === null) this.#settings.delete(name);
    else this.#settings.set(name, plan.sql);
    this.#wanted = [...this.#settings.values()].join("; ");
  }

  // ---------------------------------------------------------------- COPY

  async #startCopyIn(plan: StatementPlan & { kind: "copy-in" }): Promise<boolean> {
    await this.#admitted(plan, (latest) => ({
      kind: "many",
      shards: [...latest.shards.keys()],
      combine: { kind: "sum" },
    }));
    const map = this.#currentMap();
    const shards = map.serving;
    const connections = await this.#connectionsFor(shards);
    try {
      return await this.#beginCopyIn(plan, map, connections);
    } catch (error) {
      this.#done(connections);
      throw error;
    }
  }

  async #beginCopyIn(
    plan: StatementPlan & { kind: "copy-in" },
    map: LiveMap,
    connections: ServerConnection[],
  ): Promise<boolean> {
    let keyIndex: number | undefined = plan.keyColumnIndex;
    if (keyIndex === undefined && plan.keyColumn !== undefined) {
      keyIndex = await copyKeyColumnIndex(connections[0]!, plan.table, plan.keyColumn);
    }
    const copy = new CopyIn(
      connections,
      plan,
      keyIndex === undefined || plan.keyType === undefined
        ? undefined
        : { index: keyIndex, shardOf: (value) => shardOfKey(map, plan.keyType!, value) },
      (bytes) => this.#write(bytes),
    );
    const started = await copy.start(plan.sql);
    if (!started) {
      this.#done(connections);
      if (this.#transaction) this.#status = TransactionStatus.Failed;
      return false;
    }
    this.#copy = copy;
    return true;
  }

  async #copyMessage(message: WireMessage): Promise<void> {
    const copy = this.#copy!;
    if (message.type === F.CopyData) {
      copy.data(message.bytes.subarray(5));
      return;
    }
    if (message.type === F.Flush || message.type === F.Sync) return;
    this.#copy = undefined;
    const failed =
      message.type === F.CopyDone
        ? await copy.finish()
        : await copy.fail(
            message.type === F.CopyFail ? "COPY failed by the client" : "unexpected message during COPY",
          );
    if (failed && this.#transaction) this.#status = TransactionStatus.Failed;
    this.#done(copy.connections);
    this.#ready();
  }

  // ---------------------------------------------------------------- extended query

  async #extended(message: WireMessage): Promise<void> {
    this.#batchMap ??= this.#currentMap();
    switch (message.type) {
      case F.Parse:
        return this.#parse(message);
      case F.Bind:
        return this.#bind(message);
      case F.Describe:
        return this.#describe(message);
      case F.Execute:
        return this.#execute(message);
      case F.Close:
        return this.#closeMessage(message);
      default:
        this.#open?.send(frontend.flush());
    }
  }

  async #extendedError(error: unknown): Promise<void> {
    await this.#settle();
    this.#answerError(error);
    this.#skipping = true;
  }

  #parse(message: WireMessage): void {
    const { statement: name, sql, parameterTypes } = parseParse(message);
    if (name !== "" && this.#statements.has(name)) {
      throw new Refusal(errorFields("42P05", `prepared statement "${name}" already exists`));
    }
    const plan = this.#planner(this.#batchMap!).planStatement(sql);
    this.#context.metrics.routed(this.#database, plan.kind);
    const serverName =
      name === ""
        ? ""
        : `dbp_${createHash("sha256")
            .update(`${parameterTypes.join(",")}\0${sql}`)
            .digest("hex")
            .slice(0, 24)}`;
    const statement: ClientStatement = {
      sql,
      types: parameterTypes,
      plan,
      serverName,
      serverNameBytes: Buffer.from(`${serverName}\0`),
    };
    this.#statements.set(name, statement);
    this.#batchStatement = undefined;
    const open = this.#open;
    if (!open) {
      this.#write(backendMessage.parseComplete());
    } else if (serverName === "") {
      open.sendParse(frontend.parse("", sql, parameterTypes), undefined, false);
    } else if (open.prepared.has(serverName) || open.parsing(serverName)) {
      // Answered in order by the server: an empty statement's ParseComplete stands for this one's.
      open.sendParse(frontend.parse("", "", []), undefined, false);
    } else {
      open.sendParse(frontend.parse(serverName, sql, parameterTypes), serverName, false);
    }
  }

  #prepared(name: string): ClientStatement {
    const statement = this.#statements.get(name);
    if (!statement) throw new Refusal(errorFields("26000", `prepared statement "${name}" does not exist`));
    return statement;
  }

  /** Makes sure the connection has the statement prepared (unnamed: parsed right before its Bind). */
  #prepare(connection: ServerConnection, statement: ClientStatement): void {
    const { serverName, sql, types } = statement;
    if (serverName === "") connection.sendParse(frontend.parse("", sql, types), undefined, true);
    else if (!connection.prepared.has(serverName) && !connection.parsing(serverName)) {
      connection.sendParse(frontend.parse(serverName, sql, types), serverName, true);
    }
  }

  /**
   * A Bind, synchronously when its statement goes to one shard and a connection is at hand (the
   * batch's open one, or an idle one needing no SETs); else the promise of the rest of the work.
   */
  #bindNow(message: WireMessage): Promise<void> | undefined {
    this.#batchMap ??= this.#currentMap();
    const bind = parseBind(message);
    const statement = this.#prepared(bind.statement);
    const plan = statement.plan;
    if (this.#status === TransactionStatus.Failed || plan.kind === "copy-in" || this.#transaction) {
      return this.#bind(message, bind);
    }
    const route = this.#route(this.#batchMap, plan, {
      values: bind.parameters,
      formats: bind.parameterFormats,
    });
    if (route.kind !== "one") return this.#bind(message, bind);
    if (
      this.#mayWrite(plan) &&
      !this.#writes.tryAdmit({ mapVersion: this.#batchMap.version, shards: [route.shard] })
    )
      return this.#bind(message, bind);
    const connection = this.#connectionNow(this.#batchMap, route.shard, isRead(plan));
    if (connection === undefined) return this.#bind(message, bind);
    this.#openNow(connection);
    this.#bindOn(connection, message, bind, statement);
    return undefined;
  }

  /**
   * A prepared batch (Bind of the unnamed portal, Describe?, Execute, Sync; see `chunk`) for one
   * shard, sent whole when the statement's shard is known from its bytes, the fence lets it go
   * and a connection is at hand: the transaction's on that shard, or an idle one outside a
   * transaction. Its Sync's ReadyForQuery ends it as `#syncNow`'s does. False: nothing done.
   */
  #preparedBatch(chunk: Buffer, statementEnd: number): boolean {
    if (this.#status === TransactionStatus.Failed) return false;
    const statement = this.#batchStatementOf(chunk, statementEnd);
    if (statement === undefined) return false;
    const plan = statement.plan;
    const transaction = this.#transaction;
    if (transaction !== undefined && transaction.scope !== "one") return false;
    const map = transaction?.map ?? this.#context.maps.get(this.#database);
    if (map === undefined) return false;
    const shard = this.#batchShard(map, plan, chunk, statementEnd + 1);
    if (shard === undefined) return false;
    const read = isRead(plan);
    if (this.#mayWrite(plan)) {
      if (!this.#writes.tryAdmit({ mapVersion: map.version, shards: [shard] })) return false;
    } else if (this.#context.fence.holdsRead(this.#database, map.version, [shard])) return false;
    const connection =
      transaction === undefined ? this.#connectionNow(map, shard, read) : transaction.connections.get(shard);
    if (connection === undefined) return false;
    this.#prepare(connection, statement);
    const out = renameBatchStatement(chunk, statementEnd, statement.serverNameBytes);
    // Inside a transaction the portal outlives the Sync (a later Execute of it finds it here).
    if (transaction !== undefined) this.#portals.set("", { kind: "server", connection });
    this.#draining = true;
    this.#syncing = connection;
    connection.relayTo(this.#relayOpen, this.#relayChunk);
    connection.requestWith(out, this.#syncWaiter);
    return true;
  }

  /** The statement the last prepared batch named, and that name. */
  #batchStatement: ClientStatement | undefined;
  #batchStatementName = "";

  /**
   * The statement a prepared batch's Bind names. The same as the last batch's (a driver running
   * one statement again and again) is known by comparing the name's bytes: no string decoded,
   * no map lookup.
   */
  #batchStatementOf(chunk: Buffer, statementEnd: number): ClientStatement | undefined {
    const known = this.#batchStatementName;
    const length = statementEnd - BIND_STATEMENT_AT;
    if (this.#batchStatement !== undefined && known.length === length) {
      let i = 0;
      while (i < length && chunk[BIND_STATEMENT_AT + i] === known.charCodeAt(i)) i++;
      if (i === length) return this.#batchStatement;
    }
    const name = chunk.toString("utf8", BIND_STATEMENT_AT, statementEnd);
    const statement = this.#statements.get(name);
    // One character per byte: no character took two bytes or more (an invalid byte is U+FFFD,
    // which no byte equals), so comparing bytes to character codes is exact.
    if (statement !== undefined && name.length === length) {
      this.#batchStatement = statement;
      this.#batchStatementName = name;
    }
    return statement;
  }

  /** Where a bound parameter of a prepared batch was found (one per session, reused). */
  readonly #parameter: BoundParameter = { start: 0, length: 0, format: 0 };

  /**
   * The one shard a prepared batch's statement goes to, read from the Bind's bytes (parameters
   * begin at `parametersAt`); undefined when it is not that simple (`#bind` routes it).
   */
  #batchShard(map: LiveMap, plan: StatementPlan, bind: Buffer, parametersAt: number): number | undefined {
    if (plan.kind === "any") {
      const route = this.#route(map, plan);
      return route.kind === "one" ? route.shard : undefined;
    }
    if (plan.kind !== "keyed" || plan.keys.length !== 1) return undefined;
    const key = plan.keys[0]!;
    if (key.kind === "const") return shardOfKey(map, plan.keyType, key.value);
    const parameter = this.#parameter;
    if (!findBoundParameter(bind, parametersAt, key.index, parameter)) return undefined;
    return shardOfBoundKey(map, plan.keyType, bind, parameter.start, parameter.length, parameter.format);
  }

  /**
   * The connection for a one-shard statement outside a transaction without waiting: the batch's
   * open one on that shard, or (none open) an idle primary connection already carrying the
   * session's SETs. Undefined when only the asynchronous path can tell.
   */
  #connectionNow(map: LiveMap, shard: number, read: boolean): ServerConnection | undefined {
    const open = this.#open;
    if (open) return open.shard === shard && (read || !open.replica) ? open : undefined;
    if (read && this.#readFrom === "replica") return undefined;
    const live = map.shards.get(shard);
    if (!live) return undefined;
    const pool = this.#context.pools.primary(map, live);
    const connection = pool.takeIdle();
    if (connection === undefined) return undefined;
    this.#held.push(connection);
    if (connection.settings === this.#wanted) return connection;
    // SETs to apply first: the asynchronous path does it (the connection is given back).
    this.#release(connection);
    return undefined;
  }

  #bindOn(
    connection: ServerConnection,
    message: WireMessage,
    bind: ReturnType<typeof parseBind>,
    statement: ClientStatement,
  ): void {
    this.#prepare(connection, statement);
    connection.send(
      bind.statement === statement.serverName
        ? message.bytes
        : renameBindStatement(message, statement.serverNameBytes),
    );
    this.#portals.set(bind.portal, { kind: "server", connection });
  }

  async #bind(message: WireMessage, bind = parseBind(message)): Promise<void> {
    const statement = this.#prepared(bind.statement);
    const plan = statement.plan;
    if (this.#status === TransactionStatus.Failed && plan.kind !== "transaction") {
      throw new Refusal(
        errorFields(
          "25P02",
          "current transaction is aborted, commands ignored until end of transaction block",
        ),
      );
    }
    if (plan.kind === "copy-in")
      throw new Refusal(
        errorFields("0A000", "COPY through the extended protocol is not supported by the router"),
      );
    const parameters = { values: bind.parameters, formats: bind.parameterFormats };
    const route = await this.#admitted(plan, (map) => this.#route(map, plan, parameters));
    const outside = plan.kind === "any" && this.#transaction?.scope === "open";
    if (route.kind === "one" && !outside) {
      const connection = await this.#connectionFor(route.shard, isRead(plan));
      await this.#openOn(connection);
      this.#bindOn(connection, message, bind, statement);
      return;
    }
    await this.#settle();
    if (route.kind === "local") this.#portals.set(bind.portal, { kind: "local", plan });
    else if (route.kind === "one") {
      this.#portals.set(bind.portal, {
        kind: "many",
        route: { kind: "many", shards: [route.shard], combine: { kind: "first" } },
        statement,
        bind: renameBind(message, { statement: "", portal: "" }),
        outside: true,
      });
    } else {
      if (
        bind.resultFormats.some((format) => format !== 0) &&
        route.kind === "many" &&
        route.combine.kind === "merge"
      ) {
        throw new Refusal(errorFields("0A000", "a read over several shards must ask for text results"));
      }
      this.#portals.set(bind.portal, {
        kind: "many",
        route,
        statement,
        bind: renameBind(message, { statement: "", portal: "" }),
        outside: false,
      });
    }
    this.#write(backendMessage.bindComplete());
  }

  /** Makes `connection` the batch's open connection (its relay writes to the client as answers come). */
  async #openOn(connection: ServerConnection): Promise<void> {
    if (this.#open === connection) return;
    await this.#settle();
    this.#openNow(connection);
  }

  /** `#openOn` when nothing else is open. */
  #openNow(connection: ServerConnection): void {
    if (this.#open === connection) return;
    this.#open = connection;
    connection.relayTo(this.#relayOpen, this.#relayChunk);
  }

  /** The open connection's receiver: its answers go to the client as they come. */
  readonly #relayOpen = (message: WireMessage): void => {
    if (message.type === B.ReadyForQuery) {
      this.#paths.replyMessage++;
      this.#keepReply(message.bytes, 0);
      return;
    }
    if (message.type === B.ErrorResponse) this.#skipping = true;
    this.#write(message.bytes);
  };

  /**
   * The receiver of a chunk of whole plain answers (of the open connection, or a simple query's
   * on the callback path): passed on as it is read; one that ends with ReadyForQuery is kept
   * whole for `#ready` (which follows at once on the callback paths: the chunk goes out as it
   * came, one write of the very buffer read, no view, no copy, no deferred flush).
   */
  readonly #relayChunk = (chunk: Buffer, readyAt: number): void => {
    if (readyAt === chunk.length) this.#write(chunk);
    else {
      this.#keepReply(chunk, readyAt);
      this.#replyFromChunk = true;
    }
  };

  /** Whether the kept reply is a server chunk as read, not yet split (counted in metrics by `#ready`). */
  #replyFromChunk = false;

  #keepReply(reply: Buffer, readyAt: number): void {
    if (this.#serverReadyAt !== 0) this.#writeReplyHead();
    this.#replyFromChunk = false;
    this.#serverReply = reply;
    this.#serverReadyAt = readyAt;
  }

  /** Ends the open connection's part of the batch: Sync, its answers relayed, ReadyForQuery kept. */
  async #settle(): Promise<void> {
    const open = this.#open;
    if (!open) return;
    this.#open = undefined;
    try {
      await open.request(frontend.sync());
    } finally {
      // The batch goes on: what the answer holds goes out now, its ReadyForQuery is kept.
      if (this.#serverReadyAt !== 0) this.#writeReplyHead();
      this.#done([open]);
    }
  }

  async #describe(message: WireMessage): Promise<void> {
    const { target, name } = parseDescribe(message);
    if (target === "S") {
      const statement = this.#prepared(name);
      const map = this.#batchMap!;
      const plan = statement.plan;
      const transaction = this.#transaction;
      const pinned = transaction?.scope === "one" ? [...transaction.connections.keys()][0] : undefined;
      const keyed =
        plan.kind === "keyed" && plan.keys.every((k) => k.kind === "const")
          ? shardsOfKeys(map, plan.keyType, plan.keys)[0]
          : undefined;
      const connection = await this.#connectionFor(this.#open?.shard ?? pinned ?? keyed ?? defaultShard(map));
      await this.#openOn(connection);
      this.#prepare(connection, statement);
      connection.send(frontend.describe("S", statement.serverName));
      return;
    }
    const portal = this.#portal(name);
    if (portal.kind === "server") {
      await this.#reopen(portal.connection, name);
      portal.connection.send(message.bytes);
      return;
    }
    if (portal.kind === "local") {
      this.#write(backendMessage.noData());
      return;
    }
    const result = await this.#runPortal(portal);
    this.#write(result.description ?? backendMessage.noData());
    if (result.failed) {
      for (const bytes of result.body) this.#write(bytes);
      this.#skipping = true;
    }
  }

  /**
   * Makes a server portal's connection the open one again. Inside a transaction its portals
   * outlive the Sync that settled it; outside, that Sync ended the portal.
   */
  async #reopen(connection: ServerConnection, name: string): Promise<void> {
    if (connection === this.#open) return;
    const held = this.#transaction ? [...this.#transaction.connections.values()] : [];
    if (!held.includes(connection)) {
      throw new Refusal(
        errorFields("34000", `portal "${name}" does not exist`, {
          hint: "The router ended it when a later Bind went to another shard: execute each portal before binding one for another shard.",
        }),
      );
    }
    await this.#openOn(connection);
  }

  #portal(name: string): Portal {
    const portal = this.#portals.get(name);
    if (!portal) throw new Refusal(errorFields("34000", `portal "${name}" does not exist`));
    return portal;
  }

  /** A Describe of a portal on the open connection, synchronously; else the promise of `#describe`. */
  #describeNow(message: WireMessage): Promise<void> | undefined {
    this.#batchMap ??= this.#currentMap();
    const { target, name } = parseDescribe(message);
    if (target === "P") {
      const portal = this.#portals.get(name);
      if (portal?.kind === "server" && portal.connection === this.#open) {
        portal.connection.send(message.bytes);
        return undefined;
      }
    }
    return this.#describe(message);
  }

  /** An Execute of a portal on the open connection, synchronously; else the promise of `#execute`. */
  #executeNow(message: WireMessage): Promise<void> | undefined {
    this.#batchMap ??= this.#currentMap();
    const { portal: name } = parseExecute(message);
    const portal = this.#portals.get(name);
    if (portal?.kind === "server" && portal.connection === this.#open) {
      portal.connection.send(message.bytes);
      return undefined;
    }
    return this.#execute(message);
  }

  async #execute(message: WireMessage): Promise<void> {
    const { portal: name } = parseExecute(message);
    const portal = this.#portal(name);
    if (portal.kind === "server") {
      await this.#reopen(portal.connection, name);
      portal.connection.send(message.bytes);
      return;
    }
    if (portal.kind === "local") {
      const plan = portal.plan;
      let ok = true;
      if (plan.kind === "empty") this.#write(backendMessage.emptyQueryResponse());
      else if (plan.kind === "transaction") ok = await this.#transactionStatement(plan);
      else if (plan.kind === "set") ok = await this.#set(plan);
      if (!ok) this.#skipping = true;
      return;
    }
    const alreadyFailed = portal.result?.failed === true;
    const result = await this.#runPortal(portal);
    if (alreadyFailed) return;
    for (const bytes of result.body) this.#write(bytes);
    if (result.failed) this.#skipping = true;
  }

  /** Runs a many-shard portal once (at its first Describe or Execute) and keeps the combined answer. */
  async #runPortal(portal: Portal & { kind: "many" }): Promise<Combined> {
    if (portal.result) return portal.result;
    // Answers owed by the open connection (a later Bind's) come first, as the client sent them.
    await this.#settle();
    const { route, statement } = portal;
    const shards = route.kind === "many" ? [...route.shards] : [...route.parts.keys()].sort((a, b) => a - b);
    const connections = portal.outside
      ? [await this.#checkout(this.#batchMap!, shards[0]!, true)]
      : await this.#connectionsFor(shards, isRead(statement.plan));
    const requests = shards.map((shard) => {
      const tail = [frontend.describe("P", ""), frontend.execute(""), frontend.sync()];
      if (route.kind === "split") {
        const part = route.parts.get(shard)!;
        const types = part.sourceParams.map((index) => statement.types[index] ?? 0);
        return Buffer.concat([frontend.parse("", part.sql, types), bindText(part.params), ...tail]);
      }
      return Buffer.concat([
        frontend.parse("", route.sql ?? statement.sql, statement.types),
        portal.bind,
        ...tail,
      ]);
    });
    let answers: ShardAnswer[];
    try {
      answers = await this.#collect(connections, requests);
    } finally {
      if (portal.outside) this.#release(connections[0]!);
      else this.#done(connections);
    }
    const combine = route.kind === "many" ? route.combine : ({ kind: "sum" } as const);
    portal.result = combineAnswers(answers, combine);
    if (portal.result.failed && this.#transaction) this.#status = TransactionStatus.Failed;
    return portal.result;
  }

  async #closeMessage(message: WireMessage): Promise<void> {
    const { target, name } = parseClose(message);
    if (target === "S") {
      this.#statements.delete(name);
      this.#batchStatement = undefined;
    }
    const portal = target === "P" ? this.#portals.get(name) : undefined;
    if (target === "P") this.#portals.delete(name);
    const open = this.#open;
    if (open && portal?.kind === "server" && portal.connection === open) open.send(message.bytes);
    else if (open)
      open.send(frontend.close(target, "dbplane_nothing")); // answered CloseComplete, in order
    else this.#write(backendMessage.closeComplete());
  }

  /**
   * A Sync ending a batch on the open connection, without a promise: the Sync goes out, and
   * `#syncWaiter` finishes the batch at its ReadyForQuery and resumes the drain.
   */
  #syncNow(open: ServerConnection): typeof WAITING {
    this.#open = undefined;
    this.#syncing = open;
    open.requestWith(frontend.sync(), this.#syncWaiter);
    return WAITING;
  }

  /** The connection a Sync on the callback path waits for. */
  #syncing: ServerConnection | undefined;

  readonly #syncWaiter: ReadyWaiter = {
    resolve: () => this.#synced(undefined),
    reject: (error) => this.#synced(error),
  };

  #synced(error: Error | undefined): void {
    const open = this.#syncing!;
    this.#syncing = undefined;
    try {
      this.#doneWith(open);
      if (error !== undefined) this.#answerError(error);
      this.#endBatch();
    } catch (thrown) {
      this.#failSession(thrown);
      return;
    }
    this.#resumeLater();
  }

  async #sync(): Promise<void> {
    try {
      await this.#settle();
    } catch (error) {
      this.#answerError(error);
    }
    this.#endBatch();
  }

  /** After the Sync's settle: an error it relays must not leave the next batch skipped. */
  #endBatch(): void {
    this.#skipping = false;
    this.#batchMap = undefined;
    // Map#clear makes a new table even when empty: most batches outside a transaction left none.
    if (!this.#transaction && this.#portals.size > 0) this.#portals.clear();
    this.#ready();
  }
}
