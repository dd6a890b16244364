-- Issue #9. Disabling a link is one flag, set by the operator API now (abuse reports) and by the
-- owner's PATCH later (#18): when, and why. A disabled link answers 410 and keeps its code.
ALTER TABLE links ADD COLUMN disabled_at timestamptz;
ALTER TABLE links ADD COLUMN disabled_reason text;

-- Aliases are unique ignoring case: `DevLink` beside `devlink` is a phishing look-alike. Aliases
-- that already differ only in case keep working; the oldest of each such group holds the folded
-- key, so no new look-alike of any of them can be made.
ALTER TABLE links ADD COLUMN alias_folded text;
UPDATE links l SET alias_folded = lower(l.code)
WHERE l.kind = 'alias' AND NOT EXISTS (
  SELECT 1 FROM links o
  WHERE o.kind = 'alias' AND lower(o.code) = lower(l.code)
    AND (o.created_at < l.created_at OR (o.created_at = l.created_at AND o.code < l.code))
);
CREATE UNIQUE INDEX links_alias_folded ON links (alias_folded);

-- Clicks from one client within a short window count once here; click_totals.clicks stays raw.
ALTER TABLE click_totals ADD COLUMN unique_clicks bigint NOT NULL DEFAULT 0;

-- Referrers per link per UTC day, at most the top N hosts of the day plus one 'other' row, deleted
-- after their retention: an attacker with distinct Referer headers can no longer grow the table
-- without bound or choose a link's top referrers. Earlier rows count as today's; beyond the top
-- 50 of a link they are folded into 'other' (the flush folds to REFERRER_TOP_N from then on).
CREATE TABLE click_referrer_days (
  code text NOT NULL,
  day date NOT NULL,
  referrer text NOT NULL,
  clicks bigint NOT NULL,
  PRIMARY KEY (code, day, referrer)
);
CREATE INDEX click_referrer_days_day ON click_referrer_days (day);

INSERT INTO click_referrer_days (code, day, referrer, clicks)
SELECT code, (now() AT TIME ZONE 'UTC')::date,
       CASE WHEN rank <= 50 THEN referrer ELSE 'other' END, sum(clicks)
FROM (
  SELECT code, referrer, clicks,
         row_number() OVER (PARTITION BY code ORDER BY clicks DESC, referrer COLLATE "C") AS rank
  FROM click_referrers
) ranked
GROUP BY code, CASE WHEN rank <= 50 THEN referrer ELSE 'other' END;

DROP TABLE click_referrers;
