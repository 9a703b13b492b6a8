import type { Engine } from "../domain/observation.ts";
import { mongodbReceiver } from "./mongodb-receiver.ts";
import { mysqlReceiver } from "./mysql-receiver.ts";
import { postgresReceiver } from "./postgres-receiver.ts";
import type { Receiver } from "./receiver.ts";
import { redisReceiver } from "./redis-receiver.ts";

/** The receiver of each engine. */
export const RECEIVERS: Readonly<Record<Engine, Receiver>> = {
  postgresql: postgresReceiver,
  mysql: mysqlReceiver,
  redis: redisReceiver,
  mongodb: mongodbReceiver,
};
