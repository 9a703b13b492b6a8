import type { HttpApp } from "@dbplane/service-kit";
import { fastPathValidatorCompiler, ValidationError } from "@dbplane/service-kit";
import type { z } from "zod";
import { mergeRows, missingOrderColumns } from "../domain/merge-rows.ts";
import { FAILURE_KINDS } from "../domain/postgres-errors.ts";
import type { WriteFence } from "../fence/write-fence.ts";
import type { QueryService } from "../query/query-service.ts";
import {
  checkStatements,
  invalidStatement,
  type PlacedStatement,
  parserLoading,
} from "../query/statement-check.ts";
import type { LiveMap, LiveShard } from "../shards/live-map.ts";
import type { StatementSignal } from "../shards/server-session.ts";
import { commonQueryBody } from "./query-body.ts";
import { requestSignal } from "./request-signal.ts";
import {
  databaseParams,
  keyedResult,
  queryBody,
  scatterResult,
  transactionBody,
  transactionResult,
} from "./router-schemas.ts";
import { ShardProblemError, shardFailure, statusOf } from "./shard-errors.ts";

type QueryBody = z.output<typeof queryBody>;

/**
 * The hot path's serializer: the handlers below build their answers field by field, exactly in
 * the documented shape, so re-encoding every row through zod (fastify-type-provider-zod's
 * serializer) would only cost time; the response schemas stay for the OpenAPI document.
 */
const plainJson = () => (data: unknown) => JSON.stringify(data);

/**
 * `POST /v1/databases/:db/query` and `/transaction`. A request that may write is admitted by the
 * write fence first: while a fence holds its shard it waits, and is planned again (map, shard,
 * checks) after each wait, since the lifted fence's new map may give its key to another shard.
 */
export function registerQueryRoutes(app: HttpApp, service: QueryService, fence: WriteFence): void {
  app.post(
    "/v1/databases/:db/query",
    {
      config: { scope: "db:{db}:query" },
      schema: {
        summary: "Run a statement on the shard that owns a key, or on every shard (scatter-gather)",
        tags: ["queries"],
        params: databaseParams,
        body: queryBody,
        response: { 200: keyedResult.or(scatterResult) },
      },
      serializerCompiler: plainJson,
      validatorCompiler: fastPathValidatorCompiler({ body: commonQueryBody }),
    },
    async (request, reply) => {
      const { db } = request.params;
      const body = request.body;
      const signal = requestSignal(reply);
      const statement = { sql: body.sql, params: body.params, field: "body.sql" };
      const key = body.key;
      let map!: LiveMap;
      let resetSession = true;
      const loading = parserLoading();
      if (loading) await loading;
      if (key) {
        let shard!: LiveShard;
        const plan = () => {
          map = service.map(db);
          shard = service.shardForKey(map, key);
          const checked = checkStatements(map, [statement], { index: shard.index, field: "body.key" });
          resetSession = checked.resetsSession;
          return { mapVersion: map.version, shards: [shard.index], read: body.readOnly || !checked.mayWrite };
        };
        // Admitted now in the common case (no fence on its shard): no await, no second plan.
        const release = fence.admitNow(db, plan()) ?? (await fence.admit(db, plan));
        try {
          const res = await service.keyed(map, shard, body, body.readOnly, signal, resetSession);
          return {
            database: db,
            version: res.version,
            shard: res.shard,
            server: res.server,
            command: res.command,
            rowCount: res.rowCount,
            rows: res.rows,
          };
        } finally {
          release();
        }
      }
      let placed: ReadonlyMap<number, PlacedStatement> | undefined;
      const plan = () => {
        map = service.map(db);
        const checked = checkStatements(map, [statement]);
        resetSession = checked.resetsSession;
        // readOnly declares read-only work: a write then fails in its read-only session (25006).
        placed = body.readOnly ? undefined : checked.placed;
        if (checked.refusal !== undefined && body.allowWrites)
          throw invalidStatement("body.sql", checked.refusal);
        // A write its keys place runs on their shards only, allowWrites or not.
        if (placed !== undefined) return { mapVersion: map.version, shards: [...placed.keys()], read: false };
        // Without allowWrites every shard runs it in a read-only session: PostgreSQL refuses a write.
        return {
          mapVersion: map.version,
          shards: [...map.serving],
          read: !(body.allowWrites && checked.mayWrite),
        };
      };
      const release = fence.admitNow(db, plan()) ?? (await fence.admit(db, plan));
      try {
        return await scatter(service, map, body, signal, resetSession, placed);
      } finally {
        release();
      }
    },
  );

  app.post(
    "/v1/databases/:db/transaction",
    {
      config: { scope: "db:{db}:query" },
      schema: {
        summary: "Run several statements on one shard, atomically",
        tags: ["queries"],
        params: databaseParams,
        body: transactionBody,
        response: { 200: transactionResult },
      },
      serializerCompiler: plainJson,
    },
    async (request, reply) => {
      const { db } = request.params;
      const body = request.body;
      const signal = requestSignal(reply);
      let map!: LiveMap;
      let shard!: LiveShard;
      let writes = false;
      let resetSession = true;
      const loading = parserLoading();
      if (loading) await loading;
      const release = await fence.admit(db, () => {
        map = service.map(db);
        shard = body.key ? service.shardForKey(map, body.key) : service.shard(map, body.shard ?? -1);
        const checked = checkStatements(
          map,
          body.statements.map((s, i) => ({ ...s, field: `body.statements[${i}].sql` })),
          { index: shard.index, field: body.key ? "body.key" : "body.shard" },
        );
        writes = !body.readOnly && checked.mayWrite;
        resetSession = checked.resetsSession;
        return { mapVersion: map.version, shards: [shard.index], read: !writes };
      });
      // A replica whose lease lapsed meanwhile must not make the writes visible.
      const beforeCommit = writes ? () => fence.whileAdmitting(db) : undefined;
      let results: Awaited<ReturnType<QueryService["transaction"]>>;
      try {
        results = await service.transaction(
          map,
          shard,
          body.statements,
          body.readOnly,
          beforeCommit,
          signal,
          resetSession,
        );
      } finally {
        release();
      }
      return { database: db, version: map.version, shard: shard.index, results };
    },
  );
}

async function scatter(
  service: QueryService,
  map: LiveMap,
  body: QueryBody,
  signal: StatementSignal,
  resetSession: boolean,
  placed: ReadonlyMap<number, PlacedStatement> | undefined,
) {
  const outcomes = await service.scatter(map, body, {
    allowWrites: body.allowWrites,
    readOnly: body.readOnly,
    signal,
    resetSession,
    placed,
  });
  const failed = outcomes.filter((o) => o.error);
  const shards = outcomes.map((o) => ({
    shard: o.shard,
    server: o.server,
    rowCount: o.result?.rowCount ?? null,
    ...(o.error && {
      error: {
        status: statusOf(o.error.info),
        code:
          o.error.info.kind === FAILURE_KINDS.statement
            ? "POSTGRES_ERROR"
            : o.error.info.kind === FAILURE_KINDS.timeout
              ? "STATEMENT_TIMEOUT"
              : "SHARD_UNAVAILABLE",
        message:
          o.error.info.kind === FAILURE_KINDS.unavailable
            ? `shard ${o.shard} is unavailable`
            : o.error.info.message,
        ...(o.error.info.sqlstate !== undefined && { sqlstate: o.error.info.sqlstate }),
        ...(o.error.info.position !== undefined && { position: o.error.info.position }),
      },
    }),
  }));
  const statementErrors = failed.filter((o) => o.error?.info.kind === FAILURE_KINDS.statement);
  if (statementErrors.length > 0 && statementErrors.length === failed.length && !body.allowPartial) {
    // The same statement fails the same way everywhere: report it like a single-shard error.
    const first = statementErrors[0]!;
    throw shardFailure(map.database, first.shard, first.error!.info, { shards });
  }
  if (failed.length > 0 && !body.allowPartial) {
    const names = failed.map((o) => o.shard).join(", ");
    const status = failed.some((o) => o.error?.info.kind === FAILURE_KINDS.unavailable) ? 503 : 504;
    throw new ShardProblemError(
      status,
      status === 503 ? "SHARD_UNAVAILABLE" : "STATEMENT_TIMEOUT",
      `shard${failed.length > 1 ? "s" : ""} ${names} of database ${map.database} did not answer; no partial result (set allowPartial to accept one)`,
      { database: map.database, failedShards: failed.map((o) => o.shard), shards },
    );
  }
  const perShard = outcomes.flatMap((o) => (o.result ? [o.result.rows] : []));
  const missing = missingOrderColumns(perShard.flat(), body.orderBy);
  if (missing.length > 0) {
    throw new ValidationError(`orderBy names columns the result does not have: ${missing.join(", ")}`, {
      errors: missing.map((c) => ({ field: "body.orderBy", message: `no result column ${c}` })),
    });
  }
  const rows = mergeRows(perShard, body.orderBy, body.limit);
  return {
    database: map.database,
    version: map.version,
    complete: failed.length === 0,
    rowCount: rows.length,
    rows,
    shards,
  };
}
