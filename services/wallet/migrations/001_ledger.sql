-- The double-entry ledger. Every transfer moves one amount of one currency from a debit account
-- to a credit account and writes two entries; the account row carries the running totals that
-- the entries add up to. Balances are kept as four non-negative counters (TigerBeetle's shape):
-- posted and pending, debits and credits. An account's posted balance is credits - debits.

CREATE TABLE accounts (
  id              text PRIMARY KEY,
  owner           text NOT NULL,
  currency        text NOT NULL,
  -- Debits (posted + pending) may never exceed posted credits: a wallet cannot go below zero.
  debits_must_not_exceed_credits boolean NOT NULL,
  -- Credits (posted + pending) may never exceed posted debits: a liability account with a limit.
  credits_must_not_exceed_debits boolean NOT NULL,
  debits_posted   bigint NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
  credits_posted  bigint NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
  debits_pending  bigint NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
  credits_pending bigint NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
  -- Bumped by every change: the optimistic mode's compare-and-set, and the entries' sequence.
  version         bigint NOT NULL DEFAULT 0,
  metadata        jsonb,
  created_by      text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  -- The database's own backstop under every locking mode: a bug in the application code cannot
  -- commit an overdrawn account.
  CONSTRAINT debits_within_credits CHECK (
    NOT debits_must_not_exceed_credits OR debits_posted + debits_pending <= credits_posted),
  CONSTRAINT credits_within_debits CHECK (
    NOT credits_must_not_exceed_debits OR credits_posted + credits_pending <= debits_posted)
);
CREATE INDEX accounts_owner ON accounts (owner, id);

-- Immutable: a transfer is never updated or deleted (a trigger below refuses it). Posting or
-- voiding a pending transfer is a new transfer that names it; a reversal is a new transfer too.
CREATE TABLE transfers (
  id                text PRIMARY KEY,
  -- single: posted at once. pending: reserves. post / void: resolves a pending one.
  kind              text NOT NULL CHECK (kind IN ('single', 'pending', 'post', 'void')),
  debit_account_id  text NOT NULL REFERENCES accounts (id),
  credit_account_id text NOT NULL REFERENCES accounts (id),
  amount            bigint NOT NULL CHECK (amount > 0),
  currency          text NOT NULL,
  pending_id        text REFERENCES transfers (id),
  reverses_id       text REFERENCES transfers (id),
  -- The transfers of one linked batch share this id: they committed together.
  batch_id          text,
  timeout_at        timestamptz,
  memo              text,
  created_by        text NOT NULL,
  request_id        text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  CHECK (debit_account_id <> credit_account_id),
  CHECK ((kind IN ('post', 'void')) = (pending_id IS NOT NULL)),
  CHECK ((kind = 'pending') = (timeout_at IS NOT NULL))
);
-- A pending transfer is resolved once; a transfer is reversed once.
CREATE UNIQUE INDEX transfers_resolves_once ON transfers (pending_id) WHERE pending_id IS NOT NULL;
CREATE UNIQUE INDEX transfers_reversed_once ON transfers (reverses_id) WHERE reverses_id IS NOT NULL;

-- The open reservations, for the timeout sweeper and for post/void to lock; a row leaves when its
-- pending transfer is posted, voided or expired.
CREATE TABLE pending_open (
  transfer_id text PRIMARY KEY REFERENCES transfers (id),
  timeout_at  timestamptz NOT NULL
);
CREATE INDEX pending_open_timeout ON pending_open (timeout_at);

-- Two entries per transfer, one per side, with the account's balances just after it.
CREATE TABLE entries (
  account_id       text NOT NULL REFERENCES accounts (id),
  -- The account's version after this entry: 1, 2, 3... per account, the cursor of its pages.
  seq              bigint NOT NULL,
  transfer_id      text NOT NULL REFERENCES transfers (id),
  side             text NOT NULL CHECK (side IN ('debit', 'credit')),
  amount           bigint NOT NULL CHECK (amount > 0),
  posted_after     bigint NOT NULL,
  pending_after    bigint NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, seq)
);
CREATE INDEX entries_transfer ON entries (transfer_id);

-- Idempotency-Key records, per caller: the request's hash and the answer it got.
CREATE TABLE idempotency_keys (
  caller       text NOT NULL,
  key          text NOT NULL,
  request_hash text NOT NULL,
  status       integer,
  response     jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (caller, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE FUNCTION wallet_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger rows are immutable: % on %', TG_OP, TG_TABLE_NAME USING ERRCODE = 'P0001';
END
$$;
CREATE TRIGGER transfers_immutable BEFORE UPDATE OR DELETE ON transfers
  FOR EACH ROW EXECUTE FUNCTION wallet_refuse_change();
CREATE TRIGGER entries_immutable BEFORE UPDATE OR DELETE ON entries
  FOR EACH ROW EXECUTE FUNCTION wallet_refuse_change();
