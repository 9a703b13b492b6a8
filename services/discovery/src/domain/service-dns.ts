/** A Service a host name can mean, by cluster DNS. */
export interface ServiceName {
  readonly namespace: string;
  readonly name: string;
}

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * The Service a host name reaches from a pod in `fromNamespace`, by the forms cluster DNS
 * answers: `svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.<domain>`, and a headless Service's pod
 * names `pod.svc.ns.svc[.<domain>]`. Undefined for anything else (an external name or address).
 * Whether the Service exists is for the caller to check: `db.example` may be a Service `db` in a
 * namespace `example`, or a public name.
 */
export function serviceForHost(
  host: string,
  fromNamespace: string,
  clusterDomain: string,
): ServiceName | undefined {
  let labels = host.toLowerCase().replace(/\.$/, "").split(".");
  const domain = clusterDomain.toLowerCase().split(".");
  const endsWith = (suffix: string[]) =>
    labels.length > suffix.length &&
    suffix.every((label, i) => labels[labels.length - suffix.length + i] === label);
  if (endsWith(["svc", ...domain])) labels = labels.slice(0, -(domain.length + 1));
  else if (endsWith(["svc"])) labels = labels.slice(0, -1);
  else if (labels.length > 2) return undefined;
  if (!labels.every((label) => LABEL.test(label))) return undefined;
  switch (labels.length) {
    case 1:
      return { namespace: fromNamespace, name: labels[0]! };
    case 2:
      return { namespace: labels[1]!, name: labels[0]! };
    case 3:
      // pod.service.namespace: a pod of a headless Service
      return { namespace: labels[2]!, name: labels[1]! };
    default:
      return undefined;
  }
}

/** The DNS name of a Service that works from every namespace. */
export function serviceHost(service: ServiceName, clusterDomain: string): string {
  return `${service.name}.${service.namespace}.svc.${clusterDomain}`;
}
