import { ensureReshardAccess } from "@dbplane/reshard";
import { APP_USER } from "../../domain/application-role.ts";
import { type AdminTarget, withConnection } from "./local-server.ts";

/**
 * Makes the reshard role and its subscription wrappers as they should be in the shard's database
 * (see `ensureReshardAccess`). Every shard of a local database is on 127.0.0.1, so a subscription
 * may reach a publisher there on any port — the local driver's servers share one OS user anyway.
 */
export async function ensureReshardRole(
  target: AdminTarget,
  superuserPassword: string,
  database: string,
  password: string,
): Promise<void> {
  await withConnection(target, superuserPassword, database, (client) =>
    ensureReshardAccess(client, {
      password,
      owner: APP_USER,
      publishers: [{ hostPattern: String.raw`^127\.0\.0\.1$` }],
    }),
  );
}
