-- Upload limits (SPEC §5), checked inside the write transaction that records an upload.

-- The quota counts the bytes of the distinct blobs a user's uploads reference. Summing them on
-- every upload took ~0.5 s on the writer thread for a user with 200 000 blobs, so the sum is
-- kept here, by the triggers below, whatever code inserts or deletes uploads.
CREATE TABLE upload_usage (
    user_id       INTEGER PRIMARY KEY REFERENCES users (id),
    stored_bytes  INTEGER NOT NULL CHECK (stored_bytes >= 0)
);

-- A user's references to a blob (the quota), and a user's uploads by time (the daily count).
CREATE INDEX uploads_by_user_blob ON uploads (user_id, sha256);
CREATE INDEX uploads_by_user_time ON uploads (user_id, created_at);

INSERT INTO upload_usage (user_id, stored_bytes)
SELECT owned.user_id, sum(blobs.size)
FROM (SELECT DISTINCT user_id, sha256 FROM uploads) AS owned JOIN blobs USING (sha256)
GROUP BY owned.user_id;

-- A user's first upload of a blob adds its size; removing their last one takes it away.
CREATE TRIGGER upload_usage_after_insert AFTER INSERT ON uploads
WHEN NOT EXISTS (
    SELECT 1 FROM uploads WHERE user_id = NEW.user_id AND sha256 = NEW.sha256 AND id <> NEW.id
)
BEGIN
    INSERT INTO upload_usage (user_id, stored_bytes)
    VALUES (NEW.user_id, (SELECT size FROM blobs WHERE sha256 = NEW.sha256))
    ON CONFLICT (user_id) DO UPDATE SET stored_bytes = stored_bytes + excluded.stored_bytes;
END;

CREATE TRIGGER upload_usage_after_delete AFTER DELETE ON uploads
WHEN NOT EXISTS (SELECT 1 FROM uploads WHERE user_id = OLD.user_id AND sha256 = OLD.sha256)
BEGIN
    UPDATE upload_usage
    SET stored_bytes = stored_bytes - (SELECT size FROM blobs WHERE sha256 = OLD.sha256)
    WHERE user_id = OLD.user_id;
END;
