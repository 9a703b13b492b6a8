// Writes helm/dbplane/files/nats-permissions.json: each service's NATS permissions, from the contracts.
import { REPO_ROOT, writeNatsPermissionsFile } from "@dbplane/deploy-checks";

process.stdout.write(`wrote ${writeNatsPermissionsFile(REPO_ROOT)}\n`);
