-- A form's one-time key (the web console's `_once`), recorded with the action it asked for, so
-- that a repeated submission (a double click, a reload that re-posts, a retried request) cannot
-- do the action twice: the action and this key are written in one transaction, and a key
-- already recorded refuses the action (back-office issue).
ALTER TABLE audit_log ADD COLUMN submission TEXT;
CREATE UNIQUE INDEX audit_log_by_submission ON audit_log (submission) WHERE submission IS NOT NULL;
