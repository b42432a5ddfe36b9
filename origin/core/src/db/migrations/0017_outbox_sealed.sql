-- The outbox keeps its messages in the clear only in a purely development setup (both
-- channels use it). Once some channel has a real provider the database is a live one (its
-- snapshots and replicas leave the machine), so the outbox's code and body are sealed like a
-- waiting delivery's code (`notify::seal`), and opened only for the super-admins who may read
-- them. Rows written in the clear before are sealed when a live setup starts
-- (`Notifier::seal_clear_outbox`).
ALTER TABLE outbox ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0 CHECK (sealed IN (0, 1));
-- The rows still to seal, found without scanning the sealed ones (each start looks).
CREATE INDEX outbox_clear ON outbox (id) WHERE sealed = 0;
