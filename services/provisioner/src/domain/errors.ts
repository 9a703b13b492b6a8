/** The named database does not exist (or was deleted). */
export class DatabaseNotFoundError extends Error {
  override readonly name = "DatabaseNotFoundError";
  readonly code = "database_not_found";
  constructor(database: string) {
    super(`database "${database}" does not exist`);
  }
}

/** The request conflicts with the stored desired state (same name, other spec; change while deleting). */
export class DatabaseConflictError extends Error {
  override readonly name = "DatabaseConflictError";
  readonly code = "database_conflict";
}

/** A change the contract accepts but the database cannot take (e.g. more than 64 shards in all). */
export class InvalidChangeError extends Error {
  override readonly name = "InvalidChangeError";
  readonly code = "invalid_change";
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

/**
 * A driver cannot make a shard real and retrying will not help (missing binaries, an image that
 * does not exist): the database is marked failed with this message as the reason.
 */
export class PermanentProvisionError extends Error {
  override readonly name = "PermanentProvisionError";
  readonly code = "provision_failed";
}

/** The most shards one database may have (the contract's limit for a create). */
export const MAX_SHARDS = 64;
