/** A tiny JSON client for one replica that remembers every response body (for the password grep). */
export function httpClient(base: string, token: string) {
  const bodies: string[] = [];
  return {
    bodies,
    async call(method: string, path: string, body?: unknown, options: { auth?: boolean } = {}) {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          ...(options.auth !== false && { authorization: `Bearer ${token}` }),
          ...(body !== undefined && { "content-type": "application/json" }),
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      bodies.push(text);
      return {
        status: res.status,
        type: res.headers.get("content-type"),
        // biome-ignore lint/suspicious/noExplicitAny: test responses are inspected loosely
        body: (text ? JSON.parse(text) : undefined) as any,
      };
    },
  };
}
