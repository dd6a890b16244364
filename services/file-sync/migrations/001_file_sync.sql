-- A namespace per user: the lock every commit of that user takes (commits of one user are
-- serialised, so the head check and the journal's sequence are exact), the journal's last
-- sequence number, and the logical bytes of every kept revision (the quota).
CREATE TABLE namespaces (
  user_id text PRIMARY KEY,
  seq bigint NOT NULL DEFAULT 0,
  used_bytes bigint NOT NULL DEFAULT 0
);

-- Blocks stored once by SHA-256. `refcount` counts the revisions that list the block; a block
-- with refcount 0 is collected once `touched_at` is older than the grace period (an upload
-- between its blocks and its commit touches them). `stored` turns true once the blob is written.
CREATE TABLE blocks (
  hash text PRIMARY KEY,
  size integer NOT NULL,
  stored_size integer NOT NULL DEFAULT 0,
  compression text NOT NULL DEFAULT 'none',
  stored boolean NOT NULL DEFAULT false,
  refcount integer NOT NULL DEFAULT 0 CHECK (refcount >= 0),
  touched_at timestamptz NOT NULL
);
CREATE INDEX blocks_collectable ON blocks (touched_at) WHERE refcount = 0;

-- Which user has proved to hold a block (uploaded its bytes). Dedupe saves disk across users,
-- never bandwidth: a user who never sent a block cannot learn that it exists nor reference it.
CREATE TABLE user_blocks (
  user_id text NOT NULL,
  hash text NOT NULL REFERENCES blocks (hash) ON DELETE CASCADE,
  PRIMARY KEY (user_id, hash)
);
CREATE INDEX user_blocks_hash ON user_blocks (hash);

-- The disk bound: bytes of stored blocks, one row.
CREATE TABLE totals (
  id integer PRIMARY KEY CHECK (id = 1),
  stored_bytes bigint NOT NULL
);
INSERT INTO totals (id, stored_bytes) VALUES (1, 0);

CREATE TABLE files (
  id bigserial PRIMARY KEY,
  user_id text NOT NULL,
  path text NOT NULL,
  head_revision bigint NOT NULL,
  deleted boolean NOT NULL DEFAULT false,
  deleted_at timestamptz,
  UNIQUE (user_id, path)
);
CREATE INDEX files_tombstones ON files (deleted_at) WHERE deleted;

-- A revision is a block list. `parent_id` is the revision the writer had seen.
CREATE TABLE revisions (
  id bigserial PRIMARY KEY,
  file_id bigint NOT NULL REFERENCES files (id) ON DELETE CASCADE,
  parent_id bigint,
  size bigint NOT NULL,
  content_id text NOT NULL,
  blocks jsonb NOT NULL,
  device text NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX revisions_file ON revisions (file_id, id);

-- The change journal: one row per change, numbered per namespace with no gaps.
CREATE TABLE journal (
  user_id text NOT NULL,
  seq bigint NOT NULL,
  path text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('put', 'delete')),
  revision_id bigint NOT NULL,
  size bigint NOT NULL,
  content_id text NOT NULL,
  at timestamptz NOT NULL,
  PRIMARY KEY (user_id, seq)
);

-- Uploads that lost a race: both versions are kept; this lists where the loser went.
CREATE TABLE conflicts (
  id bigserial PRIMARY KEY,
  user_id text NOT NULL,
  path text NOT NULL,
  conflict_path text NOT NULL,
  device text NOT NULL,
  base_revision bigint,
  head_revision bigint NOT NULL,
  conflict_revision bigint NOT NULL,
  created_at timestamptz NOT NULL,
  resolved_at timestamptz
);
CREATE INDEX conflicts_open ON conflicts (user_id, id) WHERE resolved_at IS NULL;
