import { NotFoundError } from "@dbplane/service-kit";

/** 404 for a job id that does not exist. */
export function found<T>(value: T | null, id: string): T {
  if (value === null) throw new NotFoundError(`no job ${JSON.stringify(id)}`);
  return value;
}
