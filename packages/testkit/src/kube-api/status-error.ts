/** The `reason` values of Kubernetes `Status` objects the double returns. */
export const StatusReason = {
  NotFound: "NotFound",
  AlreadyExists: "AlreadyExists",
  Conflict: "Conflict",
  Invalid: "Invalid",
  BadRequest: "BadRequest",
  Expired: "Expired",
  Gone: "Gone",
  MethodNotAllowed: "MethodNotAllowed",
  UnsupportedMediaType: "UnsupportedMediaType",
  RequestEntityTooLarge: "RequestEntityTooLarge",
  InternalError: "InternalError",
} as const;
export type StatusReason = (typeof StatusReason)[keyof typeof StatusReason];

export interface StatusDetails {
  readonly name?: string;
  readonly group?: string;
  readonly kind?: string;
  readonly causes?: readonly { readonly type?: string; readonly message: string; readonly field?: string }[];
}

/** An API failure that becomes a `kind: Status` body with the same code and reason. */
export class KubeStatusError extends Error {
  override readonly name = "KubeStatusError";
  readonly code: number;
  readonly reason: StatusReason;
  readonly details: StatusDetails | undefined;

  constructor(code: number, reason: StatusReason, message: string, details?: StatusDetails) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  /** The `Status` object as the real API server writes it. */
  toStatus(): Record<string, unknown> {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

/** `statefulsets.apps` / `pods`: how the API server names a resource in messages. */
export interface QualifiedResource {
  readonly group: string;
  readonly plural: string;
  readonly kind: string;
}

function qualified(res: QualifiedResource): string {
  return res.group === "" ? res.plural : `${res.plural}.${res.group}`;
}

function details(res: QualifiedResource, name: string): StatusDetails {
  return { name, group: res.group, kind: res.plural };
}

export function notFound(res: QualifiedResource, name: string): KubeStatusError {
  return new KubeStatusError(404, "NotFound", `${qualified(res)} "${name}" not found`, details(res, name));
}

export function alreadyExists(res: QualifiedResource, name: string): KubeStatusError {
  const message = `${qualified(res)} "${name}" already exists`;
  return new KubeStatusError(409, "AlreadyExists", message, details(res, name));
}

export function staleResourceVersion(res: QualifiedResource, name: string): KubeStatusError {
  const message =
    `Operation cannot be fulfilled on ${qualified(res)} "${name}": the object has been modified; ` +
    "please apply your changes to the latest version and try again";
  return new KubeStatusError(409, "Conflict", message, details(res, name));
}

export function invalid(
  res: QualifiedResource,
  name: string,
  field: string,
  message: string,
): KubeStatusError {
  const causes = [{ type: "FieldValueInvalid", message, field }];
  const text = `${res.kind} "${name}" is invalid: ${field}: ${message}`;
  return new KubeStatusError(422, "Invalid", text, { ...details(res, name), causes });
}

export function badRequest(message: string): KubeStatusError {
  return new KubeStatusError(400, "BadRequest", message);
}

export function expired(message: string): KubeStatusError {
  return new KubeStatusError(410, "Expired", message);
}
