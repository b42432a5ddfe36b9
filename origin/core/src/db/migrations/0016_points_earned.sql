-- The points a user has ever earned (the sum of their positive entries, which sets their member
-- level), kept on each entry as a running total, so a profile read takes the latest entry
-- instead of summing a history that only grows (read-path issue). Existing entries are
-- filled in; the trigger keeps every later one right, however it is inserted (the ledger's
-- `post`, an operator's SQL, a test).
ALTER TABLE points_records ADD COLUMN earned INTEGER NOT NULL DEFAULT 0 CHECK (earned >= 0);
UPDATE points_records SET earned = totals.earned
FROM (
    SELECT id, sum(max(number, 0)) OVER (PARTITION BY user_id ORDER BY id) AS earned
    FROM points_records
) AS totals
WHERE totals.id = points_records.id;
CREATE TRIGGER points_records_earned AFTER INSERT ON points_records
BEGIN
    UPDATE points_records
    SET earned = max(NEW.number, 0) + coalesce(
        (SELECT earned FROM points_records
         WHERE user_id = NEW.user_id AND id < NEW.id ORDER BY id DESC LIMIT 1), 0)
    WHERE id = NEW.id;
END;
