/** The part of a pino logger the runtime uses (pino is the host's choice, not a dependency here). */
export interface RuntimeLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  /** The hand-over's steps, one line each (read by `pnpm bench projections` with BENCH_TRACE=1). */
  debug?(obj: object, msg: string): void;
}
