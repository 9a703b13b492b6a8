import { DomainError, ERROR_KINDS } from "@dbplane/contracts";

/** The named database does not exist (or was deleted). */
export class DatabaseNotFoundError extends DomainError {
  override readonly name = "DatabaseNotFoundError";
  constructor(database: string) {
    super(ERROR_KINDS.notFound, "DATABASE_NOT_FOUND", `database "${database}" does not exist`);
  }
}

/** The request conflicts with the stored desired state (same name, other spec; change while deleting). */
export class DatabaseConflictError extends DomainError {
  override readonly name = "DatabaseConflictError";
  constructor(message: string) {
    super(ERROR_KINDS.conflict, "DATABASE_CONFLICT", message);
  }
}

/** A change the contract accepts but the database cannot take (e.g. more than 64 shards in all). */
export class InvalidChangeError extends DomainError {
  override readonly name = "InvalidChangeError";
  constructor(field: string, message: string) {
    super(ERROR_KINDS.invalid, "INVALID_CHANGE", message, { field });
  }
}

/** A valid request this provisioner's driver cannot carry out (422; a dead letter over NATS). */
export class UnsupportedByDriverError extends DomainError {
  override readonly name = "UnsupportedByDriverError";
  constructor(field: string, message: string) {
    super(ERROR_KINDS.unprocessable, "UNSUPPORTED_BY_DRIVER", message, { field });
  }
}

/**
 * A driver cannot make a shard real and retrying will not help (missing binaries, an image that
 * does not exist): the database is marked failed with this message as the reason.
 */
export class PermanentProvisionError extends Error {
  override readonly name = "PermanentProvisionError";
  readonly code = "PROVISION_FAILED";
}

/** The most shards one database may have (the contract's limit for a create). */
export const MAX_SHARDS = 64;
