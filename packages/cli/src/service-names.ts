/** The services the CLI talks to, with their ports in local dev (DESIGN.md: 7101–7106). */
export const SERVICE_PORTS = {
  discovery: 7101,
  provisioner: 7102,
  router: 7103,
  scheduler: 7104,
  "projection-coordinator": 7105,
  collector: 7106,
} as const;
export type ServiceName = keyof typeof SERVICE_PORTS;
export const SERVICE_NAMES = Object.keys(SERVICE_PORTS) as ServiceName[];

/** Every service's URL on one host at the local-dev ports: `http://<host>:7101` and so on. */
export function urlsOnHost(host: string, scheme = "http"): Record<ServiceName, string> {
  return Object.fromEntries(
    SERVICE_NAMES.map((name) => [name, `${scheme}://${host}:${SERVICE_PORTS[name]}`]),
  ) as Record<ServiceName, string>;
}
