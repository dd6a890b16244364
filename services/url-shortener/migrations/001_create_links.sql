-- One row per code, generated or chosen. A deleted link stays as a tombstone (url NULL) so its
-- code is never issued again: a printed or bookmarked short link must not start pointing
-- somewhere else.
CREATE TABLE links (
  code text PRIMARY KEY,
  url text,
  -- sha256 of url in hex: the dedupe lookup, indexed without indexing 2 KB URLs.
  url_hash text,
  kind text NOT NULL CHECK (kind IN ('snowflake', 'hash', 'alias')),
  owner text,
  created_at timestamptz NOT NULL,
  expires_at timestamptz,
  max_clicks integer CHECK (max_clicks > 0),
  redirects_used integer NOT NULL DEFAULT 0,
  deleted_at timestamptz
);

-- A URL is stored once per owner: creations of the same plain URL (no alias, expiry or click
-- limit), even concurrent ones on several instances, meet on this index.
CREATE UNIQUE INDEX links_plain_url ON links (url_hash, COALESCE(owner, ''))
  WHERE kind <> 'alias' AND expires_at IS NULL AND max_clicks IS NULL AND deleted_at IS NULL;
