import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * Which webhook destinations besides public addresses a deployment allows
 * (`DBPLANE_SCHEDULER_WEBHOOK_ALLOW`). Without it, a job could make the scheduler call the
 * cluster's own services, the cloud metadata endpoint or the database: anyone who may create a
 * job would reach everything the scheduler's pod reaches.
 */
export interface WebhookAllowList {
  /** Host names allowed on any port, lower case. */
  readonly hosts: ReadonlySet<string>;
  /** `host:port` pairs allowed. */
  readonly hostPorts: ReadonlySet<string>;
  /** `*.example.com` entries as `.example.com`: any name below it (not the bare name). */
  readonly suffixes: readonly string[];
  /** Address ranges allowed whatever the name resolving to them (a bare address is a /32 or /128). */
  readonly cidrs: readonly Cidr[];
}

export const emptyAllowList: WebhookAllowList = {
  hosts: new Set(),
  hostPorts: new Set(),
  suffixes: [],
  cidrs: [],
};

const hostName = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** Parses the comma-separated list; returns why an entry is refused otherwise. */
export function parseWebhookAllowList(text: string): WebhookAllowList | string {
  const hosts = new Set<string>();
  const hostPorts = new Set<string>();
  const suffixes: string[] = [];
  const cidrs: Cidr[] = [];
  for (const raw of text.split(",")) {
    const entry = raw.trim().toLowerCase();
    if (entry === "") continue;
    if (entry.includes("/")) {
      if (!ipaddr.isValidCIDR(entry)) return `"${entry}" is not a CIDR range (e.g. 10.0.0.0/8)`;
      cidrs.push(ipaddr.parseCIDR(entry));
    } else if (isIP(unbracket(entry))) {
      const address = ipaddr.parse(unbracket(entry));
      cidrs.push([address, address.kind() === "ipv4" ? 32 : 128]);
    } else if (entry.startsWith("*.")) {
      if (!hostName.test(entry.slice(2))) return `"${entry}" is not *. followed by a host name`;
      suffixes.push(entry.slice(1));
    } else {
      const match = /^(.+):(\d{1,5})$/.exec(entry);
      const host = unbracket(match?.[1] ?? entry);
      if (!hostName.test(host) && !isIP(host)) return `"${entry}" is not a host, host:port, *.suffix or CIDR`;
      if (match) {
        if (Number(match[2]) < 1 || Number(match[2]) > 65_535) return `"${entry}" has no valid port`;
        hostPorts.add(`${host}:${Number(match[2])}`);
      } else hosts.add(host);
    }
  }
  return { hosts, hostPorts, suffixes, cidrs };
}

/**
 * Whether the URL's host name (as written, before resolution) is listed: then whatever it
 * resolves to is allowed — the operator vouched for the name.
 */
export function hostAllowed(list: WebhookAllowList, url: URL): boolean {
  const host = unbracket(url.hostname.toLowerCase());
  const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
  if (list.hosts.has(host) || list.hostPorts.has(`${host}:${port}`)) return true;
  return list.suffixes.some((suffix) => host.endsWith(suffix));
}

/**
 * Why an address a webhook would connect to is refused, or `null`: public unicast addresses
 * are allowed, and others (loopback, private, link-local, …) only inside a listed range.
 */
export function addressProblem(list: WebhookAllowList, address: string): string | null {
  if (!ipaddr.isValid(address)) return `${address} is not an IP address`;
  // ::ffff:10.0.0.1 is 10.0.0.1 on the wire.
  const ip = ipaddr.process(address);
  if (list.cidrs.some(([range, bits]) => range.kind() === ip.kind() && ip.match(range, bits))) return null;
  const range = ip.range();
  if (range === "unicast") return null;
  return `${address} is a ${range} address; list it in DBPLANE_SCHEDULER_WEBHOOK_ALLOW to allow it`;
}

/** The URL's host when it is an IP literal (brackets removed), else null. */
export function literalAddress(url: URL): string | null {
  const host = unbracket(url.hostname);
  return isIP(host) ? host : null;
}

function unbracket(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}
