import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseYaml } from "yaml";
import { isObject, type JsonObject } from "./patches.ts";
import { badRequest, KubeStatusError } from "./status-error.ts";

/** Requests above the real server's 3 MiB body limit are refused the same way. */
const maxBodyBytes = 3 * 1024 * 1024;

export function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes)
      throw new KubeStatusError(413, "RequestEntityTooLarge", "request entity too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Parses a request body: JSON (YAML for apply); an array only where a JSON patch is expected. */
export function parseBody(text: string, as: "object" | "yaml" | "json-patch"): JsonObject {
  let value: unknown;
  try {
    value = as === "yaml" ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw badRequest(
      `the body of the request was in an unknown format: ${(err as Error).message.split("\n")[0]}`,
    );
  }
  if (as === "json-patch" ? !Array.isArray(value) : !isObject(value)) {
    throw badRequest(
      as === "json-patch" ? "a JSON patch must be an array of operations" : "the body must be an object",
    );
  }
  return value as JsonObject;
}

/** Who made a non-apply change when no `fieldManager` was given: the client's product name, as on a real server. */
export function managerOf(req: IncomingMessage, url: URL): string {
  const explicit = url.searchParams.get("fieldManager");
  if (explicit) return explicit;
  const agent = req.headers["user-agent"] ?? "unknown";
  return agent.split("/")[0]!.split(" ")[0] || "unknown";
}
