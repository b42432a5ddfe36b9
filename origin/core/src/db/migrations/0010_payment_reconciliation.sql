-- Reconciliation (payments issue): when a pending recharge order was last asked about at its
-- gateway, so each is asked again only after a pause; and the pending orders found by age.
ALTER TABLE recharge_orders ADD COLUMN checked_at INTEGER;
CREATE INDEX recharge_orders_pending ON recharge_orders (created_at) WHERE paid_at IS NULL;
