-- Reset schedules may be a five-field cron expression (in the board's time zone).
ALTER TABLE boards DROP CONSTRAINT boards_reset_check;
ALTER TABLE boards ADD CONSTRAINT boards_reset_check CHECK (reset IN ('never', 'daily', 'weekly', 'monthly', 'cron'));
ALTER TABLE boards ADD COLUMN cron text;
