import { MongoClient, MongoServerError } from "mongodb";
import { type MongoReplStatus, type MongoServerStatus, mongoObservation } from "../domain/mongo-status.ts";
import { withPassword } from "../domain/target-spec.ts";
import type { Receiver } from "./receiver.ts";

/** `replSetGetStatus` on a server that is not in a replica set. */
const NO_REPLICATION = 76;
/** Not allowed to read replica set status (clusterMonitor missing): replication is not reported. */
const UNAUTHORIZED = 13;

/**
 * MongoDB (official driver): a client per target, talking to that one server (direct connection)
 * unless the URL names a replica set or an SRV record.
 */
export const mongodbReceiver: Receiver = (spec, password, limits) => {
  const url = withPassword(spec.url, password);
  const parsed = new URL(url);
  const direct = parsed.protocol === "mongodb:" && !parsed.searchParams.has("replicaSet");
  const client = new MongoClient(url, {
    maxPoolSize: limits.maxConnectionsPerTarget,
    serverSelectionTimeoutMS: limits.connectTimeoutMs,
    connectTimeoutMS: limits.connectTimeoutMs,
    socketTimeoutMS: limits.statementTimeoutMs,
    appName: "dbplane-collector",
    ...(direct && { directConnection: true }),
  });
  const admin = client.db("admin");
  const maxTimeMS = limits.statementTimeoutMs;
  return {
    async collect() {
      const server = (await admin.command({ serverStatus: 1, maxTimeMS })) as MongoServerStatus;
      let repl: MongoReplStatus | undefined;
      try {
        repl = (await admin.command({ replSetGetStatus: 1, maxTimeMS })) as unknown as MongoReplStatus;
      } catch (err) {
        if (!(err instanceof MongoServerError) || (err.code !== NO_REPLICATION && err.code !== UNAUTHORIZED))
          throw err;
      }
      return mongoObservation(server, repl);
    },
    close: () => client.close(true),
  };
};
