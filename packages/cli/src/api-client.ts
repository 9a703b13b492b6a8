import { ApiError, CliError, type ProblemBody } from "./cli-error.ts";
import { ExitCode } from "./exit-codes.ts";
import type { ServiceName } from "./service-names.ts";
import type { Target } from "./target.ts";

/** A successful answer: its status and parsed JSON body. */
export interface ApiResponse<T> {
  readonly status: number;
  readonly body: T;
}

/** One service's public HTTP API, with the target's bearer token on every request. */
export interface ApiClient {
  readonly service: ServiceName;
  readonly baseUrl: string;
  /** Throws {@link ApiError} on an error status, {@link CliError} when the service is unreachable. */
  request<T = unknown>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>>;
  /** A GET whose body is read as it comes (a Server-Sent Events stream); errors as `request`'s. */
  stream(path: string, signal: AbortSignal): Promise<ReadableStream<Uint8Array>>;
}

/** Why fetch failed, from the socket error under undici's "fetch failed". */
function unreachableReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}

async function parseBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function apiClient(target: Target, service: ServiceName): ApiClient {
  const baseUrl = target.services[service];
  if (!baseUrl) {
    throw new CliError(
      `context "${target.context}" has no URL for the ${service} (dbplane login --${service}-url URL)`,
      ExitCode.usage,
    );
  }
  const unreachable = (err: unknown) =>
    new CliError(`${service}: cannot reach ${baseUrl}: ${unreachableReason(err)}`, ExitCode.apiError, {
      cause: err,
    });
  const failed = async (response: Response) => {
    const parsed = await parseBody(response);
    const problem = typeof parsed === "object" && parsed !== null ? (parsed as ProblemBody) : undefined;
    const fallback = typeof parsed === "string" && parsed ? parsed : response.statusText;
    return new ApiError(service, response.status, problem, fallback);
  };
  return {
    service,
    baseUrl,
    async stream(path: string, signal: AbortSignal) {
      const headers: Record<string, string> = { accept: "text/event-stream, application/problem+json" };
      if (target.token) headers.authorization = `Bearer ${target.token}`;
      let response: Response;
      try {
        response = await fetch(new URL(path, baseUrl), { headers, signal });
      } catch (err) {
        throw unreachable(err);
      }
      if (!response.ok || !response.body) throw await failed(response);
      return response.body;
    },
    async request<T>(method: string, path: string, body?: unknown) {
      const headers: Record<string, string> = { accept: "application/json, application/problem+json" };
      if (target.token) headers.authorization = `Bearer ${target.token}`;
      if (body !== undefined) headers["content-type"] = "application/json";
      let response: Response;
      try {
        response = await fetch(new URL(path, baseUrl), {
          method,
          headers,
          ...(body !== undefined && { body: JSON.stringify(body) }),
        });
      } catch (err) {
        throw unreachable(err);
      }
      if (!response.ok) throw await failed(response);
      return { status: response.status, body: (await parseBody(response)) as T };
    },
  };
}
