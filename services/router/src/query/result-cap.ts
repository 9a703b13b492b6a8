import pg from "pg";

/** A result larger than the router's cap (DBPLANE_ROUTER_MAX_RESULT_BYTES); answered 413. */
export class ResultTooLargeError extends Error {
  override readonly name = "ResultTooLargeError";
  readonly code = "RESULT_TOO_LARGE";
  /** PostgreSQL's program_limit_exceeded class, as a wire client would see it. */
  readonly sqlstate = "54000";
  readonly limitBytes: number;

  constructor(limitBytes: number) {
    super(
      `the result is larger than the router's limit of ${limitBytes} bytes (DBPLANE_ROUTER_MAX_RESULT_BYTES); select fewer rows or columns, or page with LIMIT/OFFSET or keyset pagination`,
    );
    this.limitBytes = limitBytes;
  }
}

/**
 * What one request may still receive: shared by every statement of a request (a transaction's
 * statements, a scatter's shards), so the cap bounds what the router holds for one answer.
 */
export class ResultBudget {
  readonly limitBytes: number;
  #used = 0;

  constructor(limitBytes: number) {
    this.limitBytes = limitBytes;
  }

  /** Counts a row's field bytes; false once the request is over its limit. */
  take(fields: readonly (string | Buffer | null)[]): boolean {
    for (const f of fields) {
      if (f !== null) this.#used += typeof f === "string" ? Buffer.byteLength(f) : f.length;
    }
    return this.#used <= this.limitBytes;
  }
}

/** pg's Query internals this file relies on (pg 8: lib/query.js), absent from @types/pg. */
interface QueryInternals {
  _canceledDueToError: unknown;
  name: string | undefined;
  queryMode: string | undefined;
  handleDataRow(msg: { fields: (string | Buffer | null)[] }): void;
}

const PgQuery = pg.Query as unknown as new (
  text: string,
  values: unknown[] | undefined,
) => pg.Query & QueryInternals;

/**
 * A pg query, always in the extended protocol, that counts each DataRow's bytes against `budget`
 * before pg parses it. Past the limit it stops keeping rows and fails with ResultTooLargeError once
 * the server is done, the way pg itself fails a row it cannot parse: the rest of the result is read
 * and dropped, so the connection stays in sync and reusable, and the router never holds more than
 * the limit. A subclass, not a wrapped method per query: no bound function or closure per request.
 */
class CappedQuery extends PgQuery {
  readonly #budget: ResultBudget;

  // Text and values as arguments, not a config object: pg copies a config object property by
  // property descriptor (utils.cloneQueryConfig), a few µs per request on the hot path.
  constructor(text: string, values: unknown[] | undefined, budget: ResultBudget, name?: string) {
    super(text, values);
    this.#budget = budget;
    // Extended protocol even without parameters: PostgreSQL itself then refuses a string of
    // several statements ("cannot insert multiple commands into a prepared statement").
    this.queryMode = "extended";
    // A server-side prepared statement (prepared-statements.ts): pg parses it once per connection.
    if (name !== undefined) this.name = name;
  }

  override handleDataRow(msg: { fields: (string | Buffer | null)[] }): void {
    if (!this._canceledDueToError && !this.#budget.take(msg.fields)) {
      this._canceledDueToError = new ResultTooLargeError(this.#budget.limitBytes);
    }
    super.handleDataRow(msg);
  }
}

/** See {@link CappedQuery}. */
export function cappedQuery(
  text: string,
  values: unknown[] | undefined,
  budget: ResultBudget,
  name?: string,
): pg.Query {
  return new CappedQuery(text, values, budget, name);
}

/**
 * Runs a capped query on a pool or a checked-out client; resolves like `query()` does. `name`:
 * run it as that server-side prepared statement (parsed on the client's connection first if pg has
 * not parsed it there yet).
 */
export function runCapped(
  on: pg.Pool | pg.PoolClient,
  text: string,
  values: unknown[] | undefined,
  budget: ResultBudget,
  name?: string,
): Promise<pg.QueryResult | pg.QueryResult[]> {
  return new Promise((resolve, reject) => {
    // pg hands a Submittable's callback to the pool, which releases the client when it fires;
    // @types/pg types that overload only without the callback.
    const submit = on.query.bind(on) as unknown as (
      query: pg.Query,
      values: undefined,
      callback: (err: Error | undefined, res: pg.QueryResult | pg.QueryResult[]) => void,
    ) => void;
    submit(cappedQuery(text, values, budget, name), undefined, (err, res) =>
      err ? reject(err) : resolve(res),
    );
  });
}
