-- Speed: every job writes two history rows (its claim and its outcome), and each carried two
-- index entries and a foreign-key check (a lookup of the job under a KEY SHARE lock, per row).
-- The rows are only ever inserted in the statement that changed the job, so the key check can
-- never fail; purgeFinished deletes a job's history in the statement that deletes the job. The
-- history is read by job (`events_job`, which also orders it), never by event id alone.
ALTER TABLE {{schema}}.events DROP CONSTRAINT events_job_id_fkey;

ALTER TABLE {{schema}}.events DROP CONSTRAINT events_pkey;
