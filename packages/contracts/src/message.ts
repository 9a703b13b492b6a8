import type { z } from "zod";

/** The services that issue commands and events, as named in DESIGN.md. */
export const SERVICES = [
  "discovery",
  "provisioner",
  "router",
  "scheduler",
  "projection-coordinator",
  "collector",
] as const;
export type ServiceName = (typeof SERVICES)[number];

export const MESSAGE_KINDS = ["command", "event"] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

/**
 * One message of the catalog: where it travels (subject), what it is called (CloudEvents type)
 * and what its `data` must look like (zod schema). Read-only by construction.
 */
export interface MessageDefinition<Schema extends z.ZodType = z.ZodType> {
  readonly kind: MessageKind;
  readonly service: ServiceName;
  /** `verb-noun` for commands (`create-database`), `entity.past-verb` for events (`shard.ready`). */
  readonly name: string;
  readonly version: number;
  /** `dbplane.cmd.<service>.<verb-noun>` or `dbplane.evt.<service>.<entity>.<past-verb>`, unprefixed. */
  readonly subject: string;
  /** `io.dbplane.<service>.<name>.v<N>` */
  readonly type: string;
  readonly schema: Schema;
  readonly summary: string;
  /**
   * The services allowed to send it: an event's own service only; a command's service (it may
   * queue work for itself) plus those declared in `sentBy`. A consumer dead-letters a message
   * whose `ce-source` is none of them, and the NATS permissions of the Helm chart derive from
   * this list.
   */
  readonly producers: readonly ServiceName[];
}

export type MessageData<D extends MessageDefinition> = z.output<D["schema"]>;
export type MessageInput<D extends MessageDefinition> = z.input<D["schema"]>;

const SEGMENT = /^[a-z][a-z0-9-]*$/;

/** A subject, type or name that breaks the naming rules of DESIGN.md ("Messages"). */
export class InvalidMessageNameError extends Error {
  override readonly name = "InvalidMessageNameError";
  readonly code = "INVALID_MESSAGE_NAME";
}

function assertService(service: string): void {
  if (!(SERVICES as readonly string[]).includes(service)) {
    throw new InvalidMessageNameError(`unknown service "${service}", expected one of ${SERVICES.join(", ")}`);
  }
}

function assertSegments(what: string, value: string, counts: readonly number[]): void {
  const parts = value.split(".");
  if (!counts.includes(parts.length) || !parts.every((p) => SEGMENT.test(p))) {
    throw new InvalidMessageNameError(
      `${what} "${value}" must be ${counts.join(" or ")} dot-separated kebab-case segment(s)`,
    );
  }
}

/** `dbplane.cmd.<service>.<verb-noun>` */
export function commandSubject(service: ServiceName, verbNoun: string): string {
  assertService(service);
  assertSegments("command name", verbNoun, [1]);
  return `dbplane.cmd.${service}.${verbNoun}`;
}

/** `dbplane.evt.<service>.<entity>.<past-verb>` */
export function eventSubject(service: ServiceName, entityPastVerb: string): string {
  assertService(service);
  assertSegments("event name", entityPastVerb, [2]);
  return `dbplane.evt.${service}.${entityPastVerb}`;
}

/** `io.dbplane.<service>.<name>.v<N>` */
export function cloudEventType(service: ServiceName, name: string, version: number): string {
  assertService(service);
  assertSegments("message name", name, [1, 2]);
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new InvalidMessageNameError(`message version ${version} must be a positive integer`);
  }
  return `io.dbplane.${service}.${name}.v${version}`;
}

interface DefineOptions<Schema extends z.ZodType> {
  readonly service: ServiceName;
  readonly name: string;
  readonly version?: number;
  readonly schema: Schema;
  readonly summary: string;
}

interface DefineCommandOptions<Schema extends z.ZodType> extends DefineOptions<Schema> {
  /** Other services that send this command (the scheduler on behalf of a job, the router for a reshard). */
  readonly sentBy?: readonly ServiceName[];
}

/** The CloudEvents `source` of every message a service publishes: `dbplane/<service>`. */
export function serviceSource(service: ServiceName): string {
  return `dbplane/${service}`;
}

/** Declares a command: handled by exactly one replica of `service`, via `DBPLANE_CMD`. */
export function defineCommand<Schema extends z.ZodType>(
  options: DefineCommandOptions<Schema>,
): MessageDefinition<Schema> {
  const version = options.version ?? 1;
  for (const sender of options.sentBy ?? []) assertService(sender);
  return Object.freeze({
    kind: "command",
    service: options.service,
    name: options.name,
    version,
    subject: commandSubject(options.service, options.name),
    type: cloudEventType(options.service, options.name, version),
    schema: options.schema,
    summary: options.summary,
    producers: Object.freeze([...new Set([options.service, ...(options.sentBy ?? [])])]),
  });
}

/** Declares an event: a fact emitted by `service`, kept in `DBPLANE_EVT`. */
export function defineEvent<Schema extends z.ZodType>(
  options: DefineOptions<Schema>,
): MessageDefinition<Schema> {
  const version = options.version ?? 1;
  return Object.freeze({
    kind: "event",
    service: options.service,
    name: options.name,
    version,
    subject: eventSubject(options.service, options.name),
    type: cloudEventType(options.service, options.name, version),
    schema: options.schema,
    summary: options.summary,
    producers: Object.freeze([options.service]),
  });
}
