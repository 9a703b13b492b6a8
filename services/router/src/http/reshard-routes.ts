import { databaseName, KEYSPACE_END, RESHARD_PHASES } from "@dbplane/contracts";
import type { HttpApp } from "@dbplane/service-kit";
import { z } from "zod";
import { type AutoSplitter, autoSplitPolicy } from "../reshard/auto-split.ts";
import type { ReshardService } from "../reshard/reshard-service.ts";
import type { Reshard } from "../reshard/reshard-store.ts";

const decimal = z.string().regex(/^(0|-?[1-9]\d*)$/, "must be a decimal integer string");

const splitBody = z.strictObject({
  shard: z.int().min(0).describe("The shard whose range is split"),
  at: decimal
    .refine((v) => !/^(0|-?[1-9]\d*)$/.test(v) || (BigInt(v) > -(2n ** 63n) && BigInt(v) < KEYSPACE_END), {
      message: "must be inside the signed 64-bit keyspace",
    })
    .optional()
    .describe(
      "Hash value where the moved upper half starts; absent: the median of the shard's rows by key hash",
    ),
  toShard: z
    .int()
    .min(0)
    .optional()
    .describe("An existing shard that owns no range to take the upper half; absent: one is found or added"),
});

const keyspaceBound = decimal.refine(
  (v) => !/^(0|-?[1-9]\d*)$/.test(v) || (BigInt(v) >= -(2n ** 63n) && BigInt(v) <= KEYSPACE_END),
  { message: "must be inside the signed 64-bit keyspace (2^63 as the end)" },
);

const moveBody = z.strictObject({
  range: z
    .strictObject({
      from: keyspaceBound.describe("First hash value that moves (inclusive)"),
      to: keyspaceBound.describe(
        "End of the moved range (exclusive; 9223372036854775808 for the keyspace's end)",
      ),
    })
    .describe("The hash range that moves: a piece of one shard's range"),
  toShard: z.int().min(0).describe("The shard that takes it (it may own other ranges)"),
});

const mergeBody = z.strictObject({
  shards: z
    .tuple([z.int().min(0), z.int().min(0)])
    .describe("[a, b]: b's range (its only one, bordering one of a's) moves to a; b is left owning nothing"),
});

const reshardParams = z.object({ db: databaseName, id: z.string().min(1).max(64) });

const reshardView = z.object({
  id: z.string(),
  database: z.string(),
  kind: z.enum(["split", "move", "merge"]),
  sourceShard: z.int(),
  targetShard: z.int().nullable(),
  addedShard: z
    .int()
    .nullable()
    .describe(
      "The shard the provisioner added for this reshard; removed again if it ends before the cut-over",
    ),
  moved: z
    .object({ from: z.string(), to: z.string() })
    .nullable()
    .describe("The hash range that moves, once chosen"),
  phase: z.enum(RESHARD_PHASES),
  state: z.enum(["running", "completed", "failed", "cancelled"]),
  cancelRequested: z.boolean(),
  progress: z.object({
    rowsCopied: z.int(),
    rowsTotal: z.int(),
    replicationLagBytes: z.int().nullable(),
  }),
  writePauseMs: z
    .int()
    .nullable()
    .describe("The longest time writes to the source were held (verification or cut-over fence)"),
  verification: z
    .array(
      z.object({
        table: z.string(),
        source: z.object({ rows: z.int(), checksum: z.string() }),
        target: z.object({ rows: z.int(), checksum: z.string() }),
        equal: z.boolean(),
      }),
    )
    .nullable(),
  mapVersion: z.int().nullable().describe("The shard map version the cut-over published"),
  attempts: z.int().describe("Failed attempts of the current phase"),
  runner: z
    .string()
    .nullable()
    .describe("The router replica running it now (host:pid:id), null when none holds it"),
  error: z.string().nullable(),
  trigger: z.object({ by: z.enum(["api", "command", "auto"]), reason: z.string().optional() }),
  createdAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.string().nullable(),
});

function view(r: Reshard): z.input<typeof reshardView> {
  return {
    id: r.id,
    database: r.database,
    kind: r.kind,
    sourceShard: r.sourceShard,
    targetShard: r.targetShard,
    addedShard: r.addedShard,
    moved: r.rangeFrom === null || r.rangeTo === null ? null : { from: r.rangeFrom, to: r.rangeTo },
    phase: r.phase,
    state: r.state,
    cancelRequested: r.cancelRequested,
    progress: { rowsCopied: r.rowsCopied, rowsTotal: r.rowsTotal, replicationLagBytes: r.lagBytes },
    writePauseMs: r.writePauseMs,
    verification: r.verification === null ? null : [...r.verification],
    mapVersion: r.mapVersion,
    attempts: r.attempts,
    runner: r.owner,
    error: r.error,
    trigger: r.trigger,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
    finishedAt: r.finishedAt?.toISOString() ?? null,
  };
}

/** `POST …/splits`, `GET …/reshards[/:id]`, `POST …/reshards/:id/cancel`. */
export function registerReshardRoutes(app: HttpApp, reshards: ReshardService, autoSplit: AutoSplitter): void {
  app.get(
    "/v1/databases/:db/autosplit",
    {
      schema: {
        summary: "The database's autoSplit policy (off unless turned on)",
        tags: ["resharding"],
        params: z.object({ db: databaseName }),
        response: { 200: autoSplitPolicy },
      },
    },
    async (request) => autoSplit.policy(request.params.db),
  );

  app.put(
    "/v1/databases/:db/autosplit",
    {
      config: { scope: "db:{db}:admin" },
      schema: {
        summary: "Set the autoSplit policy: split hot or big shards without a person",
        description:
          "A shard the router reports hot (shard.hot), or that stays over maxSizeBytes / maxConnections in the collector's samples for sustainMs, is split unless the database is in its cooldown, at maxShards, or already resharding. The decision and its inputs are in reshard.started.",
        tags: ["resharding"],
        params: z.object({ db: databaseName }),
        body: autoSplitPolicy,
        response: { 200: autoSplitPolicy },
      },
    },
    async (request) => autoSplit.setPolicy(request.params.db, request.body),
  );

  app.post(
    "/v1/databases/:db/splits",
    {
      config: { scope: "db:{db}:admin" },
      schema: {
        summary: "Split a shard online: copy, catch up, verify, cut over, clean up",
        description:
          "Answers 202 with the reshard; follow it at GET /v1/databases/:db/reshards/:id. One reshard runs per database at a time (409 otherwise).",
        tags: ["resharding"],
        params: z.object({ db: databaseName }),
        body: splitBody,
        response: { 202: reshardView },
      },
    },
    async (request, reply) => {
      const { reshard } = await reshards.split({
        database: request.params.db,
        shard: request.body.shard,
        ...(request.body.at === undefined ? {} : { at: request.body.at }),
        ...(request.body.toShard === undefined ? {} : { toShard: request.body.toShard }),
        trigger: { by: "api" },
      });
      return reply
        .code(202)
        .header("location", `/v1/databases/${reshard.database}/reshards/${reshard.id}`)
        .send(view(reshard));
    },
  );

  app.post(
    "/v1/databases/:db/moves",
    {
      config: { scope: "db:{db}:admin" },
      schema: {
        summary: "Move a hash range to another shard online (copy, catch up, verify, cut over, clean up)",
        description:
          "A target that already owns ranges gets the sharded rows only, hidden from the application until the cut-over. 202 with the reshard.",
        tags: ["resharding"],
        params: z.object({ db: databaseName }),
        body: moveBody,
        response: { 202: reshardView },
      },
    },
    async (request, reply) => {
      const { reshard } = await reshards.move({ database: request.params.db, ...request.body });
      return reply
        .code(202)
        .header("location", `/v1/databases/${reshard.database}/reshards/${reshard.id}`)
        .send(view(reshard));
    },
  );

  app.post(
    "/v1/databases/:db/merges",
    {
      config: { scope: "db:{db}:admin" },
      schema: {
        summary: "Merge two neighbouring shards online: the second's range moves to the first",
        tags: ["resharding"],
        params: z.object({ db: databaseName }),
        body: mergeBody,
        response: { 202: reshardView },
      },
    },
    async (request, reply) => {
      const { reshard } = await reshards.merge({ database: request.params.db, shards: request.body.shards });
      return reply
        .code(202)
        .header("location", `/v1/databases/${reshard.database}/reshards/${reshard.id}`)
        .send(view(reshard));
    },
  );

  app.get(
    "/v1/databases/:db/reshards",
    {
      schema: {
        summary: "Reshards of a database, newest first (at most 100)",
        tags: ["resharding"],
        params: z.object({ db: databaseName }),
        response: { 200: z.object({ reshards: z.array(reshardView) }) },
      },
    },
    async (request) => ({ reshards: (await reshards.list(request.params.db)).map(view) }),
  );

  app.get(
    "/v1/databases/:db/reshards/:id",
    {
      schema: {
        summary: "One reshard: phase, rows copied, replication lag, write pause, verification",
        tags: ["resharding"],
        params: reshardParams,
        response: { 200: reshardView },
      },
    },
    async (request) => view(await reshards.get(request.params.db, request.params.id)),
  );

  app.post(
    "/v1/databases/:db/reshards/:id/cancel",
    {
      config: { scope: "db:{db}:admin" },
      schema: {
        summary: "Cancel a reshard before its cut-over; what it built is removed, clients see no change",
        description: "409 once the cut-over has begun (it then finishes forward) or the reshard has ended.",
        tags: ["resharding"],
        params: reshardParams,
        response: { 202: reshardView },
      },
    },
    async (request, reply) =>
      reply.code(202).send(view(await reshards.cancel(request.params.db, request.params.id))),
  );
}
