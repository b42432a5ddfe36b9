-- Shipping addresses, one table for both dialects (store `user_addresses`, print
-- `users/self/addresses`). At most one default per user is enforced here; "exactly one whenever
-- any exist" is kept by the domain inside each write transaction.
CREATE TABLE addresses (
    id             INTEGER PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users (id),
    contact_name   TEXT NOT NULL,
    contact_phone  TEXT NOT NULL,
    province       TEXT NOT NULL,
    city           TEXT NOT NULL,
    district       TEXT NOT NULL,
    address        TEXT NOT NULL,
    zip            TEXT NOT NULL DEFAULT '',
    is_default     INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    created_at     INTEGER NOT NULL
);
CREATE INDEX addresses_by_user ON addresses (user_id, id);
CREATE UNIQUE INDEX addresses_one_default ON addresses (user_id) WHERE is_default = 1;
