-- Push workers: HTTP endpoints the scheduler dispatches a queue's jobs to. Every scheduler
-- replica reads this table and dispatches to each worker whose heartbeat is recent.
CREATE TABLE push_workers (
  id bigserial PRIMARY KEY,
  queue text NOT NULL,
  url text NOT NULL,
  concurrency integer NOT NULL CHECK (concurrency BETWEEN 1 AND 256),
  owner text NOT NULL,
  registered_at timestamptz NOT NULL,
  last_heartbeat_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX push_workers_queue_url ON push_workers (queue, url);
