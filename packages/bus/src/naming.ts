import type { MessageKind } from "@dbplane/contracts";

/** The three streams of DESIGN.md, by role. */
export const STREAM_ROLES = ["cmd", "evt", "dlq"] as const;
export type StreamRole = (typeof STREAM_ROLES)[number];

/**
 * Every name the bus derives from the optional namespace. `@dbplane/testkit`'s
 * `deleteNamespace` relies on exactly these shapes (streams `<NS>_DBPLANE_*`, buckets
 * `<ns>_dbplane_*`), so change them together.
 */
export interface BusNames {
  readonly namespace: string | undefined;
  /** `DBPLANE_CMD` or `<NS>_DBPLANE_CMD` … */
  stream(role: StreamRole): string;
  /** `dbplane.cmd.>` or `<ns>.dbplane.cmd.>` … */
  streamSubjects(role: StreamRole): string;
  /** The wire subject of a contracts subject (`dbplane.…`). */
  subject(contractSubject: string): string;
  /** The contracts subject of a wire subject (strips the namespace). */
  contractSubject(wireSubject: string): string;
  /**
   * `dbplane.dlq.<service>.<durable>.<original subject>`, namespaced: the dead-lettering
   * service's name first, so its NATS user may publish `dbplane.dlq.<service>.>` and no other
   * service's dead letters. (Until 2026-12 it was `dbplane.dlq.<durable>.…`; such copies stay
   * in `DBPLANE_DLQ` until they age out, and `dbplane.dlq.>` still matches both.)
   */
  dlqSubject(service: string, durable: string, wireSubject: string): string;
  /** `dbplane.dlq.<service>.>`, namespaced: every dead letter `service` publishes. */
  dlqSubjectsOf(service: string): string;
  /** `dbplane_<name>` or `<ns>_dbplane_<name>`. */
  bucket(name: string): string;
  streamRoleOf(kind: MessageKind): StreamRole;
}

const NAMESPACE = /^[a-z][a-z0-9_]*$/;
const BUCKET = /^[a-zA-Z0-9_-]+$/;
const TOKEN = /^[A-Za-z0-9_-]+$/;

/** A name that stands as one subject token: no `.`, wildcard or space could widen what it grants. */
function subjectToken(name: string): string {
  if (!TOKEN.test(name)) throw new Error(`"${name}" must match ${TOKEN} to name a subject token`);
  return name;
}

export function busNames(namespace?: string): BusNames {
  if (namespace !== undefined && !NAMESPACE.test(namespace)) {
    throw new Error(`bus namespace "${namespace}" must be lower-case letters, digits and underscores`);
  }
  const subjectPrefix = namespace ? `${namespace}.` : "";
  const streamPrefix = namespace ? `${namespace.toUpperCase()}_` : "";
  const subject = (s: string) => `${subjectPrefix}${s}`;
  const contractSubject = (s: string) =>
    subjectPrefix && s.startsWith(subjectPrefix) ? s.slice(subjectPrefix.length) : s;
  return {
    namespace,
    stream: (role) => `${streamPrefix}DBPLANE_${role.toUpperCase()}`,
    streamSubjects: (role) => subject(`dbplane.${role}.>`),
    subject,
    contractSubject,
    dlqSubject: (service, durable, wireSubject) =>
      subject(`dbplane.dlq.${subjectToken(service)}.${durable}.${contractSubject(wireSubject)}`),
    dlqSubjectsOf: (service) => subject(`dbplane.dlq.${subjectToken(service)}.>`),
    bucket: (name) => {
      if (!BUCKET.test(name)) throw new Error(`KV bucket name "${name}" must match ${BUCKET}`);
      return namespace ? `${namespace}_dbplane_${name}` : `dbplane_${name}`;
    },
    streamRoleOf: (kind) => (kind === "command" ? "cmd" : "evt"),
  };
}

/**
 * `_INBOX_<service>`: the prefix of every inbox the service's connection makes (request replies,
 * pull and push deliveries, KV watchers). Its NATS user may subscribe to `_INBOX_<service>.>`
 * only, so no service can listen to what JetStream delivers to another.
 */
export function serviceInboxPrefix(service: string): string {
  return `_INBOX_${subjectToken(service)}`;
}

/**
 * The single filter subject for a set of subjects: the subject itself, or the longest common
 * token prefix followed by `>`. NATS 2.9 allows one `filter_subject` per consumer, so a consumer
 * of several messages filters by a shared prefix and matches the type client-side.
 */
export function commonFilterSubject(subjects: readonly string[]): string {
  const unique = [...new Set(subjects)];
  if (unique.length === 0) throw new Error("at least one subject is required");
  if (unique.length === 1) return unique[0]!;
  const split = unique.map((s) => s.split("."));
  const common: string[] = [];
  for (let i = 0; split.every((tokens) => i < tokens.length - 1 && tokens[i] === split[0]![i]); i++) {
    common.push(split[0]![i]!);
  }
  return [...common, ">"].join(".");
}
