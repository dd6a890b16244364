-- A board's rules, fixed at creation: its sort order, operator, ranking mode, reset schedule and
-- the bounds of the tie-break encoding (score range and time resolution, within 53 bits).
-- `period_start` is the period the index currently serves; the instance that moves it forward
-- archives the finished one (one conditional UPDATE decides which instance that is).
CREATE TABLE boards (
  id text PRIMARY KEY,
  sort_order text NOT NULL CHECK (sort_order IN ('desc', 'asc')),
  operator text NOT NULL CHECK (operator IN ('best', 'set', 'incr', 'decr')),
  ranking text NOT NULL CHECK (ranking IN ('ordinal', 'competition', 'dense')),
  reset text NOT NULL CHECK (reset IN ('never', 'daily', 'weekly', 'monthly')),
  time_zone text NOT NULL,
  score_min bigint NOT NULL,
  score_max bigint NOT NULL,
  time_resolution_ms integer NOT NULL CHECK (time_resolution_ms > 0),
  created_at bigint NOT NULL,
  period_start bigint NOT NULL
);

-- Each player's standing in one period of one board: the materialised state of the log below,
-- updated in the transaction that appends to it. Its row lock serialises one player's updates,
-- so the index is written in the same order as the log.
CREATE TABLE entries (
  board_id text NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
  period_start bigint NOT NULL,
  player text NOT NULL,
  score bigint NOT NULL,
  -- When the player first reached this score (ms since the epoch): the tie-break.
  reached_at bigint NOT NULL,
  display_name text,
  sub_score bigint,
  PRIMARY KEY (board_id, period_start, player)
);
CREATE INDEX entries_standings ON entries (board_id, period_start, score, reached_at);

-- The score event log, the source of truth: every accepted submission with the score it led to.
-- Rebuilding the index replays the last event of each player of the period.
CREATE TABLE score_events (
  id bigserial PRIMARY KEY,
  board_id text NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
  period_start bigint NOT NULL,
  player text NOT NULL,
  value bigint NOT NULL,
  score bigint NOT NULL,
  reached_at bigint NOT NULL,
  accepted_at bigint NOT NULL,
  idempotency_key text,
  -- A hash of what was submitted under the key: the same key with another body is refused.
  request_hash text,
  UNIQUE (board_id, idempotency_key)
);
CREATE INDEX score_events_replay ON score_events (board_id, period_start, player, id);
CREATE INDEX score_events_player ON score_events (player);

-- Finished periods: archived when the next one starts; their standings stay in `entries`.
CREATE TABLE periods (
  board_id text NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
  period_start bigint NOT NULL,
  period_end bigint NOT NULL,
  players integer NOT NULL,
  archived_at bigint NOT NULL,
  PRIMARY KEY (board_id, period_start)
);
