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
  /** `dbplane.dlq.<durable>.<original subject>`, namespaced. */
  dlqSubject(durable: string, wireSubject: string): string;
  /** `dbplane_<name>` or `<ns>_dbplane_<name>`. */
  bucket(name: string): string;
  streamRoleOf(kind: MessageKind): StreamRole;
}

const NAMESPACE = /^[a-z][a-z0-9_]*$/;
const BUCKET = /^[a-zA-Z0-9_-]+$/;

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
    dlqSubject: (durable, wireSubject) => subject(`dbplane.dlq.${durable}.${contractSubject(wireSubject)}`),
    bucket: (name) => {
      if (!BUCKET.test(name)) throw new Error(`KV bucket name "${name}" must match ${BUCKET}`);
      return namespace ? `${namespace}_dbplane_${name}` : `dbplane_${name}`;
    },
    streamRoleOf: (kind) => (kind === "command" ? "cmd" : "evt"),
  };
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
