/** A response as a spec inspects it. */
export interface JsonResponse {
  readonly status: number;
  /** The `content-type` header. */
  readonly type: string | null;
  /** The parsed JSON body; `undefined` when the body is empty. */
  // biome-ignore lint/suspicious/noExplicitAny: specs inspect response bodies loosely, field by field
  readonly body: any;
}

/** A JSON client for one service replica. */
export interface HttpClient {
  /** Every response body so far, as text: for checks that no secret was ever answered. */
  readonly bodies: string[];
  /** Sends `body` as JSON with the bearer token (unless `auth` is false) and parses the answer. */
  call(method: string, path: string, body?: unknown, options?: { auth?: boolean }): Promise<JsonResponse>;
}

/** JSON over HTTP to `base` (a replica's `http://127.0.0.1:<port>`), with `token` when given. */
export function httpClient(base: string, token?: string): HttpClient {
  const bodies: string[] = [];
  return {
    bodies,
    async call(method, path, body, options = {}) {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          ...(token !== undefined && options.auth !== false && { authorization: `Bearer ${token}` }),
          ...(body !== undefined && { "content-type": "application/json" }),
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      bodies.push(text);
      return {
        status: res.status,
        type: res.headers.get("content-type"),
        body: text ? JSON.parse(text) : undefined,
      };
    },
  };
}
