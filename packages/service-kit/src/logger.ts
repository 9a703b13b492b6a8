import { type Logger, pino } from "pino";
import pretty from "pino-pretty";
import type { LogLevel } from "./env-fragments.ts";

export type { Logger } from "pino";

/**
 * Paths pino blanks out wherever they appear in a log object. Wildcards reach one level, so the
 * common shapes are listed: a top-level field, a field of a logged object, request headers.
 */
export const REDACTED_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  "headers.authorization",
  "authorization",
  "*.authorization",
  ...["password", "secret", "token", "jwtSecret", "DBPLANE_JWT_SECRET"].flatMap((field) => [
    field,
    `*.${field}`,
    `*.*.${field}`,
  ]),
];

export interface CreateLoggerOptions {
  /** The service name, on every line as `name`. */
  readonly name: string;
  readonly level?: LogLevel;
  /** Where lines go; default stdout (pretty only when stdout is a terminal). */
  readonly destination?: NodeJS.WritableStream;
}

/**
 * JSON lines to stdout for machines; pino-pretty when a person is watching a terminal. Writes are
 * synchronous so the last lines before `process.exit` (shutdown steps, a fatal error) are not lost.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const config = {
    name: options.name,
    level: options.level ?? "info",
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (options.destination) return pino(config, options.destination);
  if (process.stdout.isTTY) return pino(config, pretty({ colorize: true, sync: true }));
  return pino(config, pino.destination({ dest: 1, sync: true }));
}
