-- Channels: a direct channel between two users (its id names both, so it exists once) or a group.
CREATE TABLE channels (
  id text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('direct', 'group')),
  name text,
  created_by text NOT NULL,
  created_at bigint NOT NULL
);

-- Membership with the member's read pointer: one row per member per channel, never one per
-- message, so read receipts cost the same for a channel of ten messages or ten million.
CREATE TABLE channel_members (
  channel_id text NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
  user_id text NOT NULL,
  joined_at bigint NOT NULL,
  read_seq bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (channel_id, user_id)
);
CREATE INDEX channel_members_by_user ON channel_members (user_id, channel_id);

-- Each device's last acknowledged sequence per channel: multi-device sync resumes from here.
CREATE TABLE device_cursors (
  user_id text NOT NULL,
  device_id text NOT NULL,
  channel_id text NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
  acked_seq bigint NOT NULL,
  PRIMARY KEY (user_id, device_id, channel_id)
);

-- The embedded (Postgres/PGlite) message store. The per-channel counter is taken in the same
-- transaction as the insert, so sequences have no gaps and a crash leaves neither half.
CREATE TABLE channel_sequences (
  channel_id text PRIMARY KEY,
  last_seq bigint NOT NULL
);

CREATE TABLE messages (
  channel_id text NOT NULL,
  seq bigint NOT NULL,
  id bigint NOT NULL,
  sender_id text NOT NULL,
  client_msg_id text NOT NULL,
  body text NOT NULL,
  created_at bigint NOT NULL,
  edited_at bigint,
  deleted_at bigint,
  PRIMARY KEY (channel_id, seq)
);
-- A resend with the same client message id finds the stored message instead of storing twice.
CREATE UNIQUE INDEX messages_client_id ON messages (channel_id, sender_id, client_msg_id);
CREATE INDEX messages_by_time ON messages (created_at);

-- What the notifier would have pushed to offline members (the push provider is the boundary).
CREATE TABLE push_log (
  id bigserial PRIMARY KEY,
  user_id text NOT NULL,
  channel_id text NOT NULL,
  message_seq bigint NOT NULL,
  preview text NOT NULL,
  recorded_at bigint NOT NULL,
  UNIQUE (user_id, channel_id, message_seq)
);
