-- How a board's index is split past one Redis: {"kind":"single"}, {"kind":"range","bounds":[...]}
-- (scores, best first: shard i holds the scores at least as good as bounds[i] and worse than
-- bounds[i-1]) or {"kind":"hash","shards":n} (a player lives on hash(player) mod n).
ALTER TABLE boards ADD COLUMN partitioning jsonb NOT NULL DEFAULT '{"kind":"single"}';
