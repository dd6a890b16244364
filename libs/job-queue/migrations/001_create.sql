-- The queue's tables, in one schema shared by every service on the database ({{schema}} is
-- replaced by the configured schema name, `job_queue` by default). Statements are separated by a
-- semicolon at the end of a line: the migrator runs them one at a time (PGlite's extended protocol
-- takes one statement per query).

-- Every claim takes a fresh fencing token from one sequence, so tokens increase across all jobs:
-- a side effect store can keep the highest token it has seen per resource and refuse lower ones.
CREATE SEQUENCE {{schema}}.fence_seq;

CREATE TABLE {{schema}}.jobs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue text NOT NULL,
  tenant text NOT NULL DEFAULT '',
  state text NOT NULL CHECK (state IN
    ('scheduled', 'ready', 'waiting', 'running', 'succeeded', 'failed', 'dead', 'cancelled')),
  payload jsonb NOT NULL,
  priority integer NOT NULL DEFAULT 0,
  run_at timestamptz NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL,
  backoff_kind text NOT NULL CHECK (backoff_kind IN ('fixed', 'exponential')),
  backoff_ms integer NOT NULL,
  backoff_max_ms integer NOT NULL,
  timeout_ms integer NOT NULL,
  job_key text,
  fence bigint NOT NULL DEFAULT 0,
  worker text,
  lease_expires_at timestamptz,
  progress jsonb,
  output jsonb,
  error jsonb,
  flow_id bigint,
  -- The job's name within its flow, so a dependent can tell its dependencies apart.
  flow_ref text,
  -- Dependencies (flow parents, or children a running job added) not yet finished.
  pending_dependencies integer NOT NULL DEFAULT 0,
  -- Set when another job depends on this one, so completing a job without dependents skips
  -- the dependency bookkeeping.
  has_dependents boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  finished_at timestamptz
);

CREATE UNIQUE INDEX jobs_job_key ON {{schema}}.jobs (queue, job_key) WHERE job_key IS NOT NULL;

-- The claim: claimable jobs of a queue in priority order, then due time, then submission order.
CREATE INDEX jobs_claimable ON {{schema}}.jobs (queue, priority DESC, run_at, id)
  WHERE state IN ('scheduled', 'ready', 'failed');

-- The fair claim walks the tenants of a queue that have claimable jobs.
CREATE INDEX jobs_claimable_by_tenant ON {{schema}}.jobs (queue, tenant, priority DESC, run_at, id)
  WHERE state IN ('scheduled', 'ready', 'failed');

-- The reaper: running jobs by lease expiry.
CREATE INDEX jobs_leases ON {{schema}}.jobs (lease_expires_at) WHERE state = 'running';

-- Listing by queue and state (the dashboard, the dead-letter list), cursor on id.
CREATE INDEX jobs_queue_state ON {{schema}}.jobs (queue, state, id);

CREATE TABLE {{schema}}.dependencies (
  job_id bigint NOT NULL REFERENCES {{schema}}.jobs (id) ON DELETE CASCADE,
  depends_on bigint NOT NULL REFERENCES {{schema}}.jobs (id) ON DELETE CASCADE,
  on_failure text NOT NULL CHECK (on_failure IN ('fail-parent', 'continue')),
  PRIMARY KEY (job_id, depends_on)
);

CREATE INDEX dependencies_depends_on ON {{schema}}.dependencies (depends_on);

-- The history of each job's state changes: one row per transition after submission.
CREATE TABLE {{schema}}.events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id bigint NOT NULL REFERENCES {{schema}}.jobs (id) ON DELETE CASCADE,
  at timestamptz NOT NULL,
  from_state text,
  to_state text NOT NULL,
  attempt integer NOT NULL,
  worker text,
  fence bigint,
  error jsonb
);

CREATE INDEX events_job ON {{schema}}.events (job_id, id);

CREATE TABLE {{schema}}.paused_queues (
  queue text PRIMARY KEY,
  paused_at timestamptz NOT NULL
);

CREATE TABLE {{schema}}.schedules (
  name text PRIMARY KEY,
  queue text NOT NULL,
  cron text NOT NULL,
  time_zone text NOT NULL,
  payload jsonb NOT NULL,
  job_options jsonb NOT NULL,
  missed_ticks text NOT NULL CHECK (missed_ticks IN ('skip', 'catch-up')),
  next_tick_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
