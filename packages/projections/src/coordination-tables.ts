import { fnv1a32 } from "./partition.ts";

/** The coordination tables, schema-qualified and quoted. */
export interface CoordinationTables {
  readonly schema: string;
  readonly migrations: string;
  readonly members: string;
  readonly generations: string;
  readonly units: string;
  readonly moves: string;
  readonly parked: string;
  /** LISTEN/NOTIFY channel told of every membership change and unit changing owner. */
  readonly channel: string;
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** Qualified names in `schema` (checked, not escaped: it comes from config or a test). */
export function coordinationTables(schema: string): CoordinationTables {
  if (!IDENT.test(schema)) {
    throw new TypeError(`schema must be a lower-case PostgreSQL identifier, got ${JSON.stringify(schema)}`);
  }
  const q = `"${schema}"`;
  return {
    schema,
    migrations: `${q}.schema_migrations`,
    members: `${q}.members`,
    generations: `${q}.generations`,
    units: `${q}.units`,
    moves: `${q}.unit_moves`,
    parked: `${q}.parked`,
    // A channel name is an identifier (≤ 63 bytes): the schema's hash keeps it short and unique.
    channel: `dbplane_projections_${fnv1a32(schema).toString(16)}`,
  };
}

/** Same shape as service-kit's `SchemaMigration`, so a host runs them with `migrateSchema`. */
export interface CoordinationMigration {
  readonly version: number;
  readonly name: string;
  readonly sql: (t: CoordinationTables) => string;
}

/** Append only: an applied migration is never edited, a change is a new version. */
export const coordinationMigrations: readonly CoordinationMigration[] = [
  {
    version: 1,
    name: "members, generations, units, moves, parked events",
    sql: (t) => `
      CREATE TABLE ${t.members} (
        id            text PRIMARY KEY,
        -- name@version of every projection the member's code can run.
        capabilities  text[] NOT NULL,
        joined_at     timestamptz NOT NULL DEFAULT now(),
        heartbeat_at  timestamptz NOT NULL DEFAULT now(),
        -- Lag of each owned unit as the owner sees it: {"<unit>": [events, seconds]}.
        status        jsonb NOT NULL DEFAULT '{}'
      );
      CREATE TABLE ${t.generations} (
        projection    text NOT NULL,
        generation    integer NOT NULL,
        version       integer NOT NULL,
        partitions    integer NOT NULL,
        state         text NOT NULL CHECK (state IN ('building', 'active', 'retired')),
        -- A building generation switches in only once every unit has passed this stream sequence
        -- (the active generation's furthest checkpoint when the build started) and the active one's slowest unit.
        catch_up_to   bigint NOT NULL DEFAULT 0,
        created_at    timestamptz NOT NULL DEFAULT now(),
        activated_at  timestamptz,
        retired_at    timestamptz,
        tables_dropped boolean NOT NULL DEFAULT false,
        PRIMARY KEY (projection, generation)
      );
      CREATE UNIQUE INDEX generations_one_active ON ${t.generations} (projection) WHERE state = 'active';
      CREATE UNIQUE INDEX generations_one_building ON ${t.generations} (projection) WHERE state = 'building';
      CREATE TABLE ${t.units} (
        projection      text NOT NULL,
        generation      integer NOT NULL,
        partition       integer NOT NULL,
        owner           text,
        -- Fencing token: bumped on every acquisition and checked by every checkpoint write.
        token           bigint NOT NULL DEFAULT 0,
        owned_since     timestamptz,
        checkpoint      bigint NOT NULL DEFAULT 0,
        checkpoint_at   timestamptz,
        applied_events  bigint NOT NULL DEFAULT 0,
        last_event_time timestamptz,
        PRIMARY KEY (projection, generation, partition),
        FOREIGN KEY (projection, generation) REFERENCES ${t.generations} ON DELETE CASCADE
      );
      CREATE INDEX units_owner_idx ON ${t.units} (owner) WHERE owner IS NOT NULL;
      CREATE TABLE ${t.moves} (
        id          bigserial PRIMARY KEY,
        projection  text NOT NULL,
        generation  integer NOT NULL,
        partition   integer NOT NULL,
        worker      text NOT NULL,
        token       bigint NOT NULL,
        action      text NOT NULL CHECK (action IN ('assigned', 'released', 'lost')),
        checkpoint  bigint NOT NULL,
        at          timestamptz NOT NULL DEFAULT clock_timestamp()
      );
      CREATE TABLE ${t.parked} (
        id          bigserial PRIMARY KEY,
        projection  text NOT NULL,
        generation  integer NOT NULL,
        partition   integer NOT NULL,
        stream_seq  bigint NOT NULL,
        event       jsonb NOT NULL,
        reason      text NOT NULL,
        attempts    integer NOT NULL,
        state       text NOT NULL DEFAULT 'parked' CHECK (state IN ('parked', 'resolved')),
        parked_at   timestamptz NOT NULL DEFAULT now(),
        resolved_at timestamptz,
        UNIQUE (projection, generation, stream_seq)
      );
    `,
  },
  {
    version: 2,
    name: "notify replicas of joins, leaves and released units",
    // Replicas LISTEN on the channel and rebalance at once instead of on their next heartbeat
    // tick: an owner releases as soon as a member joins, the next owner acquires as soon as a
    // unit is free. Triggers, so removals of stale members and manual edits notify too.
    sql: (t) => `
      CREATE FUNCTION "${t.schema}".notify_coordination() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('${t.channel}', TG_TABLE_NAME);
        RETURN NULL;
      END $$;
      CREATE TRIGGER members_changed AFTER INSERT OR DELETE ON ${t.members}
        FOR EACH ROW EXECUTE FUNCTION "${t.schema}".notify_coordination();
      CREATE TRIGGER units_owner_changed AFTER UPDATE OF owner ON ${t.units}
        FOR EACH ROW WHEN (OLD.owner IS DISTINCT FROM NEW.owner)
        EXECUTE FUNCTION "${t.schema}".notify_coordination();
    `,
  },
  {
    version: 3,
    name: "a released unit's notification names the unit",
    // The replica that should own a released unit acquires it from the notification itself
    // (rendezvous over the members it last saw), without reading the view first. Replicas of
    // the previous version ignore the payload, as they always did.
    sql: (t) => `
      CREATE OR REPLACE FUNCTION "${t.schema}".notify_coordination() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        -- Nested: plpgsql does not short-circuit AND, and a members row has no owner.
        IF TG_TABLE_NAME = 'units' THEN
          IF NEW.owner IS NULL THEN
            PERFORM pg_notify('${t.channel}', json_build_object(
              'released', json_build_object(
                'projection', NEW.projection, 'generation', NEW.generation, 'partition', NEW.partition))::text);
            RETURN NULL;
          END IF;
        END IF;
        PERFORM pg_notify('${t.channel}', TG_TABLE_NAME);
        RETURN NULL;
      END $$;
    `,
  },
  {
    version: 4,
    name: "where a joining member's read-ahead starts for each unit it expects",
    // {"<projection>/<generation>/<partition>": seq}: where a joining member's read-ahead for a
    // unit it expects starts. An owner handing it one of them applies up to the sequence just below
    // first, so the unit starts on the joiner from events it already holds. Replicas of the
    // previous version neither write nor read it and release at once, as they always did.
    sql: (t) => `ALTER TABLE ${t.members} ADD COLUMN read_ahead jsonb NOT NULL DEFAULT '{}'`,
  },
];
