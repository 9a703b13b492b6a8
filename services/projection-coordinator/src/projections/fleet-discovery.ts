import { endpointText } from "../domain/endpoint-text.ts";
import type { FleetEventHandler } from "./fleet.ts";

/** discovery `database.*` and `app.*`: servers and databases found, and the apps using them. */
export const applyDiscoveryEvent: FleetEventHandler = async (e, name, tx, t) => {
  const d = e.data;
  switch (name) {
    case "database.discovered":
    case "database.changed":
      await tx.query(
        `INSERT INTO ${t.table("databases")} (id, name, origin, endpoint, dbname, server_version, managed_by, state, updated_at)
         VALUES ($1, $2, 'discovery', $3, $4, $5, $6, 'present', $7)
         ON CONFLICT (id) DO UPDATE SET endpoint = $3, dbname = $4, server_version = $5, managed_by = $6,
           state = 'present', reason = NULL, updated_at = $7`,
        [
          d.id,
          d.dbname ?? endpointText(d.endpoint),
          endpointText(d.endpoint),
          d.dbname ?? null,
          d.serverVersion ?? null,
          d.managedBy ?? null,
          d.observedAt,
        ],
      );
      return;
    case "database.lost":
      await tx.query(
        `UPDATE ${t.table("databases")} SET state = 'lost', reason = $2, updated_at = $3 WHERE id = $1`,
        [d.id, d.reason ?? null, d.observedAt],
      );
      return;
    case "app.discovered":
    case "app.changed":
      await tx.query(
        `INSERT INTO ${t.table("apps")} (id, name, workload, databases, lost, updated_at) VALUES ($1, $2, $3, $4, false, $5)
         ON CONFLICT (id) DO UPDATE SET name = $2, workload = $3, databases = $4, lost = false, updated_at = $5`,
        [d.id, d.name, JSON.stringify(d.workload), JSON.stringify(d.databases), d.observedAt],
      );
      return;
    case "app.lost":
      await tx.query(`UPDATE ${t.table("apps")} SET lost = true, updated_at = $2 WHERE id = $1`, [
        d.id,
        d.observedAt,
      ]);
      return;
  }
};
