-- Click counters, written only by the aggregator's flush (one transaction per flush).
CREATE TABLE click_totals (
  code text PRIMARY KEY,
  clicks bigint NOT NULL
);

CREATE TABLE click_minutes (
  code text NOT NULL,
  minute timestamptz NOT NULL,
  clicks bigint NOT NULL,
  PRIMARY KEY (code, minute)
);
CREATE INDEX click_minutes_minute ON click_minutes (minute);

CREATE TABLE click_referrers (
  code text NOT NULL,
  referrer text NOT NULL,
  clicks bigint NOT NULL,
  PRIMARY KEY (code, referrer)
);

CREATE TABLE click_devices (
  code text NOT NULL,
  device text NOT NULL,
  clicks bigint NOT NULL,
  PRIMARY KEY (code, device)
);

-- Ids of applied url.clicked messages: a redelivered message finds its id here and adds nothing.
CREATE TABLE click_messages (
  message_id text PRIMARY KEY,
  applied_at timestamptz NOT NULL
);
CREATE INDEX click_messages_applied_at ON click_messages (applied_at);

-- Per partition, the position after the last applied message and when: how far the counters go.
CREATE TABLE click_checkpoints (
  topic text NOT NULL,
  partition integer NOT NULL,
  next_offset bigint NOT NULL,
  clicks bigint NOT NULL,
  flushed_at timestamptz NOT NULL,
  PRIMARY KEY (topic, partition)
);
