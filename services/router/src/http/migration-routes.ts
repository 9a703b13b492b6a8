import type { HttpApp } from "@dbplane/service-kit";
import type { QueryService } from "../query/query-service.ts";
import type { MigrationRunner } from "../shards/migration-runner.ts";
import type { RouterStore } from "../store/router-store.ts";
import { databaseParams, migrationBody, migrationList, migrationResult } from "./router-schemas.ts";

/** `POST/GET /v1/databases/:db/migrations`. */
export function registerMigrationRoutes(
  app: HttpApp,
  deps: { service: QueryService; store: RouterStore; runner: MigrationRunner },
): void {
  app.post(
    "/v1/databases/:db/migrations",
    {
      config: { scope: "db:{db}:admin" },
      schema: {
        summary: "Apply a DDL migration to every shard, recorded per shard by id (idempotent)",
        description:
          "Recorded first, then applied to each shard in one transaction with its record. A shard that fails keeps the migration pending: repeat the request, or it is applied when the shard next joins a map. Shards that join later get every recorded migration in order.",
        tags: ["migrations"],
        params: databaseParams,
        body: migrationBody,
        response: { 200: migrationResult },
      },
    },
    async (request) => {
      const { db } = request.params;
      const map = deps.service.map(db);
      await deps.store.recordMigration(db, request.body.id, request.body.statements);
      const shards = await deps.runner.applyEverywhere(map, request.body);
      return {
        database: db,
        id: request.body.id,
        complete: shards.every((s) => s.status !== "failed"),
        shards,
      };
    },
  );

  app.get(
    "/v1/databases/:db/migrations",
    {
      schema: {
        summary: "Migrations recorded for a database, in the order they are applied",
        tags: ["migrations"],
        params: databaseParams,
        response: { 200: migrationList },
      },
    },
    async (request) => {
      const { db } = request.params;
      deps.service.map(db);
      const migrations = await deps.store.migrations(db);
      return {
        database: db,
        migrations: migrations.map((m) => ({
          id: m.id,
          statements: [...m.statements],
          createdAt: m.createdAt,
        })),
      };
    },
  );
}
