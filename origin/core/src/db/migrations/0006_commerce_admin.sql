-- Gifts bought with points, and the orders for them. An order keeps a copy of the address it
-- ships to, so later edits of the address book do not rewrite history.
CREATE TABLE gifts (
    id                 INTEGER PRIMARY KEY,
    name               TEXT NOT NULL,
    image_upload_id    INTEGER REFERENCES uploads (id),
    accumulate_points  INTEGER NOT NULL CHECK (accumulate_points > 0),
    stock              INTEGER NOT NULL CHECK (stock >= 0),
    created_at         INTEGER NOT NULL
);

CREATE TABLE gift_orders (
    id                 INTEGER PRIMARY KEY,
    order_no           TEXT NOT NULL UNIQUE,
    user_id            INTEGER NOT NULL REFERENCES users (id),
    gift_id            INTEGER NOT NULL REFERENCES gifts (id),
    accumulate_points  INTEGER NOT NULL,
    ship_name          TEXT NOT NULL,
    ship_phone         TEXT NOT NULL,
    ship_province      TEXT NOT NULL,
    ship_city          TEXT NOT NULL,
    ship_county        TEXT NOT NULL,
    ship_detail        TEXT NOT NULL,
    express_company    TEXT,
    tracking_no        TEXT,
    shipped_at         INTEGER,
    created_at         INTEGER NOT NULL
);
CREATE INDEX gift_orders_by_user ON gift_orders (user_id, id);

-- Balance recharges. `trade_no` is the payment provider's id, unique per provider: a second
-- notify of the same payment can never credit again.
CREATE TABLE recharge_orders (
    id           INTEGER PRIMARY KEY,
    order_no     TEXT NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    price_cents  INTEGER NOT NULL CHECK (price_cents > 0),
    pay_type     TEXT NOT NULL CHECK (pay_type IN ('alipay', 'wechat')),
    provider     TEXT NOT NULL,
    trade_no     TEXT,
    paid_at      INTEGER,
    created_at   INTEGER NOT NULL,
    UNIQUE (provider, trade_no)
);
CREATE INDEX recharge_orders_by_user ON recharge_orders (user_id, id);

-- Who did what to whom, when, from where: every admin (and operator CLI) write.
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY,
    actor_id     INTEGER REFERENCES users (id),
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    target_user  INTEGER REFERENCES users (id),
    detail       TEXT NOT NULL,
    ip           TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);
