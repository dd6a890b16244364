-- Users, the social graph, posts and the actions on them. Timestamps are ms since the epoch from
-- the service's clock, so tests can move time (inactive users) without touching the database's.
CREATE TABLE users (
  id text PRIMARY KEY,
  display_name text NOT NULL,
  created_ms bigint NOT NULL,
  -- Bumped at most once a minute by reads; fanout skips users not seen for INACTIVE_DAYS.
  last_seen_ms bigint NOT NULL,
  -- 'active': the cached feed is maintained; 'rebuilding': reads come from Postgres until the
  -- rebuild that started at rebuild_started_ms finishes.
  feed_state text NOT NULL DEFAULT 'active' CHECK (feed_state IN ('active', 'rebuilding')),
  rebuild_started_ms bigint,
  -- Once an author reaches CELEBRITY_THRESHOLD followers their posts are pulled at read in the
  -- hybrid mode, from then on (sticky, so an author near the threshold does not flap).
  celebrity boolean NOT NULL DEFAULT false,
  followers integer NOT NULL DEFAULT 0,
  following integer NOT NULL DEFAULT 0,
  posts integer NOT NULL DEFAULT 0
);

CREATE TABLE follows (
  follower text NOT NULL REFERENCES users (id),
  followee text NOT NULL REFERENCES users (id),
  created_ms bigint NOT NULL,
  PRIMARY KEY (follower, followee)
);
-- The fanout reads followers of an author in pages by follower id.
CREATE INDEX follows_by_followee ON follows (followee, follower);

-- Blocks and mutes are the viewer's: the target's posts never reach the viewer's feed.
CREATE TABLE blocks (
  user_id text NOT NULL REFERENCES users (id),
  target text NOT NULL REFERENCES users (id),
  PRIMARY KEY (user_id, target)
);

CREATE TABLE mutes (
  user_id text NOT NULL REFERENCES users (id),
  target text NOT NULL REFERENCES users (id),
  PRIMARY KEY (user_id, target)
);

CREATE TABLE posts (
  id bigint PRIMARY KEY,
  author text NOT NULL REFERENCES users (id),
  -- The snowflake id's millisecond and sequence packed into 53 bits: the sorted sets' score.
  score bigint NOT NULL,
  body text NOT NULL,
  created_ms bigint NOT NULL,
  deleted boolean NOT NULL DEFAULT false,
  idempotency_key text,
  request_hash text,
  UNIQUE (author, idempotency_key)
);
-- Timelines and the feed's fallback page walk an author's posts newest first.
CREATE INDEX posts_by_author ON posts (author, score DESC, id DESC);

CREATE TABLE post_counters (
  post_id bigint PRIMARY KEY REFERENCES posts (id),
  likes integer NOT NULL DEFAULT 0,
  replies integer NOT NULL DEFAULT 0
);

CREATE TABLE likes (
  post_id bigint NOT NULL REFERENCES posts (id),
  user_id text NOT NULL REFERENCES users (id),
  created_ms bigint NOT NULL,
  PRIMARY KEY (post_id, user_id)
);
CREATE INDEX likes_by_user ON likes (user_id, post_id);

CREATE TABLE replies (
  id bigint PRIMARY KEY,
  post_id bigint NOT NULL REFERENCES posts (id),
  author text NOT NULL REFERENCES users (id),
  body text NOT NULL,
  created_ms bigint NOT NULL
);
CREATE INDEX replies_by_post ON replies (post_id, id DESC);
CREATE INDEX replies_by_author ON replies (author, post_id);
