-- Worker (machine) id leases for Snowflake-style generators. A row per node id that was ever
-- leased; `issued_until_ms` is the latest time any holder was allowed to put in an id, so a new
-- holder (or a restart on a clock that is behind) never reuses a time unit.
CREATE TABLE worker_leases (
  datacenter_id integer NOT NULL CHECK (datacenter_id >= 0),
  worker_id integer NOT NULL CHECK (worker_id >= 0),
  owner text NOT NULL,
  expires_at timestamptz NOT NULL,
  issued_until_ms bigint NOT NULL DEFAULT 0,
  acquired_at timestamptz NOT NULL DEFAULT now(),
  renewed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (datacenter_id, worker_id)
);
