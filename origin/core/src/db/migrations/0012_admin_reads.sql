-- Back-office reads (orders, catalogue, dashboard): goods and gifts can be retired (gone from
-- the public lists, kept for the orders that name them), and the indexes the admin lists'
-- filters and orderings and the dashboard's per-day counts read. Each list is ordered by an
-- index, so a page costs its rows, not the table (EXPLAIN QUERY PLAN tests in `order_reads`).
ALTER TABLE goods ADD COLUMN retired INTEGER NOT NULL DEFAULT 0 CHECK (retired IN (0, 1));
ALTER TABLE gifts ADD COLUMN retired INTEGER NOT NULL DEFAULT 0 CHECK (retired IN (0, 1));

-- Recharge orders, newest first (created_at, id): all, by pay type, paid; the pending ones
-- use `recharge_orders_pending` (0010). A user's few orders use `recharge_orders_by_user`.
CREATE INDEX recharge_orders_by_time ON recharge_orders (created_at);
CREATE INDEX recharge_orders_by_pay_type ON recharge_orders (pay_type, created_at);
CREATE INDEX recharge_orders_paid ON recharge_orders (created_at) WHERE paid_at IS NOT NULL;
-- The dashboard: paid recharges per day of payment, with their sums (covering).
CREATE INDEX recharge_orders_by_paid_at ON recharge_orders (paid_at, price_cents)
    WHERE paid_at IS NOT NULL;

-- The shipping queue: unshipped oldest first, then shipped newest first; a search by tracking
-- number, consignee phone or name; redemptions per day.
CREATE INDEX gift_orders_unshipped ON gift_orders (created_at) WHERE shipped_at IS NULL;
CREATE INDEX gift_orders_shipped ON gift_orders (shipped_at) WHERE shipped_at IS NOT NULL;
CREATE INDEX gift_orders_by_time ON gift_orders (created_at);
CREATE INDEX gift_orders_by_tracking_no ON gift_orders (tracking_no) WHERE tracking_no IS NOT NULL;
CREATE INDEX gift_orders_by_ship_phone ON gift_orders (ship_phone);
CREATE INDEX gift_orders_by_ship_name ON gift_orders (ship_name);

-- The dashboard: sign-ups per day, and failed deliveries by when they gave up.
CREATE INDEX users_by_created_at ON users (created_at);
CREATE INDEX deliveries_failed ON deliveries (finished_at) WHERE status = 'failed';
