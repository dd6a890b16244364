-- Flickr's ticket server: one sequence hands out every id.
CREATE SEQUENCE ticket_ids START WITH 1 INCREMENT BY 1;

-- Multi-master: how many servers (k) the per-server sequences were made for. The sequences
-- themselves (multi_master_server_<i>, START WITH i INCREMENT BY k) are made at start-up from
-- MULTI_MASTER_SERVERS, because changing k means re-creating all of them above the highest id.
CREATE TABLE multi_master_layout (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  servers integer NOT NULL CHECK (servers BETWEEN 1 AND 64),
  changed_at timestamptz NOT NULL DEFAULT now()
);
