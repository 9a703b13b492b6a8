import { DomainError, ERROR_KINDS } from "@dbplane/contracts";
import type pg from "pg";
import { type ShardMapDocument, shardMapDocument } from "../domain/shard-map.ts";
import { migrate } from "./migrations.ts";
import { routerTables } from "./schema-tables.ts";

/** A migration as the router records it: applied to every shard of its database. */
export interface MigrationRecord {
  readonly database: string;
  readonly id: string;
  readonly statements: readonly string[];
  readonly createdAt: string;
}

/** Another writer stored this version first; the caller's view is stale. */
export class ShardMapVersionConflictError extends DomainError {
  override readonly name = "ShardMapVersionConflictError";
  constructor(message: string) {
    super(ERROR_KINDS.conflict, "SHARD_MAP_VERSION_CONFLICT", message);
  }
}

/** The same migration id was recorded with other statements. */
export class MigrationConflictError extends DomainError {
  override readonly name = "MigrationConflictError";
  constructor(message: string) {
    super(ERROR_KINDS.conflict, "MIGRATION_CONFLICT", message);
  }
}

/** The router's own tables: every shard-map version (the source of truth) and every migration. */
export interface RouterStore {
  /** Applies pending schema migrations; returns their versions. */
  migrate(): Promise<number[]>;
  /** The newest version of each database's map. */
  latestMaps(): Promise<ShardMapDocument[]>;
  latestMap(database: string): Promise<ShardMapDocument | undefined>;
  /** Stores `doc` if it is exactly one version past the newest stored; else ShardMapVersionConflictError. */
  insertMap(doc: ShardMapDocument): Promise<void>;
  /** Records a migration; returns false if the same id and statements were already recorded. */
  recordMigration(database: string, id: string, statements: readonly string[]): Promise<boolean>;
  migrations(database: string): Promise<MigrationRecord[]>;
  /**
   * Forgets a deleted database: every map version and migration record. A database created
   * again under the same name is a new database and starts at version 1 with no migrations.
   * Returns false when nothing was stored (a redelivery, or a database the router never knew).
   */
  forgetDatabase(database: string): Promise<boolean>;
}

export function createRouterStore(pool: pg.Pool, schema: string): RouterStore {
  const t = routerTables(schema);
  return {
    migrate: () => migrate(pool, schema),
    async latestMaps() {
      const res = await pool.query<{ document: unknown }>(
        `SELECT DISTINCT ON (database) document FROM ${t.shardMaps} ORDER BY database, version DESC`,
      );
      return res.rows.map((r) => shardMapDocument.parse(r.document));
    },
    async latestMap(database) {
      const res = await pool.query<{ document: unknown }>(
        `SELECT document FROM ${t.shardMaps} WHERE database = $1 ORDER BY version DESC LIMIT 1`,
        [database],
      );
      return res.rows[0] ? shardMapDocument.parse(res.rows[0].document) : undefined;
    },
    async insertMap(doc) {
      // The primary key settles a race between two writers of the same next version.
      try {
        const res = await pool.query(
          `INSERT INTO ${t.shardMaps} (database, version, document)
           SELECT $1, $2, $3::json
           WHERE COALESCE((SELECT max(version) FROM ${t.shardMaps} WHERE database = $1), 0) = $2 - 1`,
          [doc.database, doc.version, JSON.stringify(doc)],
        );
        if (res.rowCount === 1) return;
      } catch (err) {
        if ((err as { code?: string }).code !== "23505") throw err;
      }
      throw new ShardMapVersionConflictError(
        `version ${doc.version} of ${doc.database} is not the next version (another writer was first)`,
      );
    },
    async recordMigration(database, id, statements) {
      const res = await pool.query<{ statements: string[]; inserted: boolean }>(
        `WITH ins AS (
           INSERT INTO ${t.shardMigrations} (database, id, statements) VALUES ($1, $2, $3::jsonb)
           ON CONFLICT (database, id) DO NOTHING RETURNING statements
         )
         SELECT statements, true AS inserted FROM ins
         UNION ALL
         SELECT statements, false FROM ${t.shardMigrations} WHERE database = $1 AND id = $2
         LIMIT 1`,
        [database, id, JSON.stringify(statements)],
      );
      const row = res.rows[0];
      if (!row) throw new Error(`migration ${id} vanished while being recorded`);
      if (!row.inserted && JSON.stringify(row.statements) !== JSON.stringify(statements)) {
        throw new MigrationConflictError(`migration ${id} of ${database} was recorded with other statements`);
      }
      return row.inserted;
    },
    async forgetDatabase(database) {
      const res = await pool.query<{ maps: string }>(
        `WITH m AS (DELETE FROM ${t.shardMigrations} WHERE database = $1),
              d AS (DELETE FROM ${t.shardMaps} WHERE database = $1 RETURNING 1)
         SELECT count(*) AS maps FROM d`,
        [database],
      );
      return Number(res.rows[0]?.maps ?? 0) > 0;
    },
    async migrations(database) {
      const res = await pool.query<{ id: string; statements: string[]; created_at: Date }>(
        `SELECT id, statements, created_at FROM ${t.shardMigrations} WHERE database = $1 ORDER BY created_at, id`,
        [database],
      );
      return res.rows.map((r) => ({
        database,
        id: r.id,
        statements: r.statements,
        createdAt: r.created_at.toISOString(),
      }));
    },
  };
}
