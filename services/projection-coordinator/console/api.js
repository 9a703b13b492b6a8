// Calls to the coordinator's own API and, through its same-origin proxy, to the other
// services. The token lives in sessionStorage (this tab only); a 401 asks for a new one.
const TOKEN_KEY = "dbplane.token";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? problem?.title ?? `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value.trim()),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

let askForToken = async () => {};
/** `prompt(reason)` resolves once the user gave a token (or cancelled). */
export function onTokenNeeded(prompt) {
  askForToken = prompt;
}

/** The URL of `path` on `service`: the coordinator's own API, or the proxy to another one. */
export function serviceUrl(service, path) {
  return service === "coordinator" ? `/v1/${path}` : `/console/api/${service}/${path}`;
}

/** Fetch with the bearer token; on 401 asks for a token once and tries again. */
export async function call(service, path, { method = "GET", body } = {}) {
  for (let attempt = 0; ; attempt++) {
    const headers = { accept: "application/json" };
    const t = token.get();
    if (t) headers.authorization = `Bearer ${t}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(serviceUrl(service, path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 401 && attempt === 0) {
      const problem = await res.json().catch(() => null);
      await askForToken(problem?.detail ?? "The token was refused.");
      continue;
    }
    const text = await res.text();
    const data = text ? JSON.parse(text) : null;
    if (!res.ok) throw new ApiError(res.status, data);
    return data;
  }
}

export const get = (service, path) => call(service, path);
