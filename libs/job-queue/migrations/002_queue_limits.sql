-- Per-queue limits: at most `concurrency_max` jobs of the queue leased at once across every
-- worker, and at most `rate_max` starts in any `rate_interval_ms` (a sliding window, exact).
-- A claim of a queue with a limit takes this row's lock first, so limited claims of one queue run
-- one at a time and each sees the jobs the one before it leased.
CREATE TABLE {{schema}}.queues (
  queue text PRIMARY KEY,
  concurrency_max integer CHECK (concurrency_max > 0),
  rate_max integer CHECK (rate_max > 0),
  rate_interval_ms integer CHECK (rate_interval_ms > 0),
  updated_at timestamptz NOT NULL,
  CHECK ((rate_max IS NULL) = (rate_interval_ms IS NULL))
);

-- The sliding-window log of a rate-limited queue: one row per claim that started jobs, with how
-- many. Rows older than the window are deleted by the claim that finds them.
CREATE TABLE {{schema}}.queue_starts (
  queue text NOT NULL,
  at timestamptz NOT NULL,
  n integer NOT NULL CHECK (n > 0)
);

CREATE INDEX queue_starts_queue_at ON {{schema}}.queue_starts (queue, at);
