-- Uploads: one row per stored blob (content-addressed, SPEC §5) and one per upload of it, so
-- the same bytes uploaded by two users are stored once but owned by both.
CREATE TABLE blobs (
    sha256      TEXT PRIMARY KEY,
    mime        TEXT NOT NULL,
    ext         TEXT NOT NULL,
    size        INTEGER NOT NULL CHECK (size > 0),
    created_at  INTEGER NOT NULL
);

CREATE TABLE uploads (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    kind        TEXT NOT NULL CHECK (kind IN ('image', 'file')),
    sha256      TEXT NOT NULL REFERENCES blobs (sha256),
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX uploads_by_user ON uploads (user_id, id);

-- Goods: what comments (and, later, orders) are about. Prices in cents.
CREATE TABLE goods (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    price_cents  INTEGER NOT NULL CHECK (price_cents >= 0),
    created_at   INTEGER NOT NULL
);

CREATE TABLE comments (
    id               INTEGER PRIMARY KEY,
    user_id          INTEGER NOT NULL REFERENCES users (id),
    goods_id         INTEGER NOT NULL REFERENCES goods (id),
    target           TEXT,
    goods_comment    TEXT NOT NULL,
    service_comment  TEXT NOT NULL,
    describe_grade   INTEGER NOT NULL CHECK (describe_grade BETWEEN 1 AND 5),
    seller_grade     INTEGER NOT NULL CHECK (seller_grade BETWEEN 1 AND 5),
    logistics_grade  INTEGER NOT NULL CHECK (logistics_grade BETWEEN 1 AND 5),
    anonymous        INTEGER NOT NULL CHECK (anonymous IN (0, 1)),
    created_at       INTEGER NOT NULL
);
CREATE INDEX comments_by_goods ON comments (goods_id, id);
CREATE INDEX comments_by_user ON comments (user_id, id);

CREATE TABLE comment_images (
    comment_id  INTEGER NOT NULL REFERENCES comments (id),
    position    INTEGER NOT NULL,
    upload_id   INTEGER NOT NULL REFERENCES uploads (id),
    PRIMARY KEY (comment_id, position)
) WITHOUT ROWID;
