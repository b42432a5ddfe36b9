-- In-site messages and coupons (points and balance ledgers came with 0001).
CREATE TABLE messages (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    sender      TEXT NOT NULL,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    read_at     INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX messages_by_user ON messages (user_id, id);

-- Money in cents; `satisfy_cents` only for 满减 (spend-at-least) coupons.
CREATE TABLE coupons (
    id             INTEGER PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users (id),
    coupon_no      TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    type           TEXT NOT NULL CHECK (type IN ('满减', '抵扣')),
    quota_cents    INTEGER NOT NULL CHECK (quota_cents > 0),
    satisfy_cents  INTEGER CHECK (satisfy_cents IS NULL OR satisfy_cents >= 0),
    used_at        INTEGER,
    finished_at    INTEGER NOT NULL,
    created_at     INTEGER NOT NULL
);
CREATE INDEX coupons_by_user ON coupons (user_id, id);
