/** `host:port` of a contract endpoint, the form the fleet shows and apps are configured with. */
export function endpointText(value: unknown): string | null {
  const e = value as { host?: unknown; port?: unknown } | null | undefined;
  return e && typeof e.host === "string" ? `${e.host}:${String(e.port)}` : null;
}
