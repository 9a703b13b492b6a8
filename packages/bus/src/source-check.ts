import { SERVICES, type ServiceName, serviceSource } from "@dbplane/contracts";

/**
 * A message whose CloudEvents `source` is not `dbplane/<service>` of one of its allowed senders:
 * a forgery or a misrouted publish. Consumers dead-letter it (reason `untrusted-source`), the
 * projection runtime parks it; neither handles it.
 */
export class UntrustedSourceError extends Error {
  override readonly name = "UntrustedSourceError";
}

/**
 * The service a contracts subject belongs to: `<service>` of `dbplane.evt.<service>.…` or
 * `dbplane.cmd.<service>.…`; undefined for any other subject.
 */
export function subjectService(contractSubject: string): ServiceName | undefined {
  const [root, kind, service] = contractSubject.split(".");
  if (root !== "dbplane" || (kind !== "evt" && kind !== "cmd")) return undefined;
  return SERVICES.find((s) => s === service);
}

/**
 * The error to refuse a message of `type` with when its `source` is none of `senders` (a
 * definition's `producers`; for an event read without its definition, the service its subject
 * names), or undefined when the source may send it.
 */
export function untrustedSource(
  source: string,
  type: string,
  senders: readonly ServiceName[],
): UntrustedSourceError | undefined {
  if (senders.some((sender) => source === serviceSource(sender))) return undefined;
  const expected = senders.length > 0 ? senders.map(serviceSource).join(" or ") : "no sender";
  return new UntrustedSourceError(`ce-source "${source}" may not send ${type} (expected ${expected})`);
}
