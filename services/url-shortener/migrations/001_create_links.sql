-- One row per code, generated or chosen. A deleted link stays as a tombstone (url NULL) so its
-- code is never issued again: a printed or bookmarked short link must not start pointing
-- somewhere else.
CREATE TABLE links (
  code text PRIMARY KEY,
  url text,
  -- Set only on a live plain link (no alias, expiry or click limit): sha256 of its owner and URL.
  -- A URL is stored once per owner: creations of the same plain URL, even concurrent ones on
  -- several instances, meet on this unique key (NULLs never conflict).
  plain_key text UNIQUE,
  kind text NOT NULL CHECK (kind IN ('snowflake', 'hash', 'alias')),
  owner text,
  created_at timestamptz NOT NULL,
  expires_at timestamptz,
  max_clicks integer CHECK (max_clicks > 0),
  redirects_used integer NOT NULL DEFAULT 0,
  deleted_at timestamptz
);
