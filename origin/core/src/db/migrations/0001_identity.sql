-- Identity: users, sessions, codes, captchas, invitations, roles, the development outbox,
-- and the member tables that the profile reads (levels, points and balance ledgers).
-- Times are Unix seconds (UTC); money is integer cents.

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    account        TEXT UNIQUE,
    phone          TEXT UNIQUE,
    email          TEXT UNIQUE COLLATE NOCASE,
    wechat_openid  TEXT UNIQUE,
    nickname       TEXT NOT NULL DEFAULT '',
    sex            INTEGER NOT NULL DEFAULT 0 CHECK (sex IN (0, 1, 2)),
    avatar         TEXT NOT NULL DEFAULT '',
    password_hash  TEXT,
    disabled       INTEGER NOT NULL DEFAULT 0,
    locked_until   INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL
);

CREATE TABLE login_failures (
    user_id  INTEGER NOT NULL REFERENCES users (id),
    at       INTEGER NOT NULL
);
CREATE INDEX login_failures_by_user ON login_failures (user_id, at);

-- One row per sign-in. Every token descended from that sign-in carries its id as `sid`.
CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    admin           INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER,
    revoked_reason  TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- One row per token generation of a session: a sign-in makes generation 1, each refresh
-- spends the current one and makes the next. Only token ids are stored, never tokens: the
-- signature is deterministic (Ed25519), so a generation can be re-signed from its row when a
-- spent token is presented again within the grace period.
CREATE TABLE session_tokens (
    session_id          TEXT NOT NULL REFERENCES sessions (id),
    generation          INTEGER NOT NULL,
    access_jti          TEXT NOT NULL UNIQUE,
    refresh_jti         TEXT NOT NULL UNIQUE,
    issued_at           INTEGER NOT NULL,
    access_expires_at   INTEGER NOT NULL,
    refresh_expires_at  INTEGER NOT NULL,
    spent_at            INTEGER,
    PRIMARY KEY (session_id, generation)
);

-- SMS and e-mail verification codes. The code is stored as an HMAC keyed by a server secret.
CREATE TABLE verification_codes (
    token       TEXT PRIMARY KEY,
    channel     TEXT NOT NULL CHECK (channel IN ('sms', 'mail')),
    target      TEXT NOT NULL,
    code_hash   TEXT NOT NULL,
    client_ip   TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    consumed_at INTEGER
);
CREATE INDEX verification_codes_by_target ON verification_codes (channel, target, created_at);
CREATE INDEX verification_codes_by_ip ON verification_codes (channel, client_ip, created_at);

CREATE TABLE captchas (
    key          TEXT PRIMARY KEY,
    answer_hash  TEXT NOT NULL,
    username     TEXT NOT NULL,
    client_ip    TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER
);
CREATE INDEX captchas_by_ip ON captchas (client_ip, created_at);

CREATE TABLE invitation_codes (
    code        TEXT PRIMARY KEY,
    uses_total  INTEGER NOT NULL CHECK (uses_total > 0),
    uses_left   INTEGER NOT NULL CHECK (uses_left >= 0),
    expires_at  INTEGER,
    created_at  INTEGER NOT NULL
);

CREATE TABLE invitation_uses (
    code     TEXT NOT NULL REFERENCES invitation_codes (code),
    user_id  INTEGER NOT NULL REFERENCES users (id),
    at       INTEGER NOT NULL
);

-- The development notifier: every SMS, e-mail and captcha answer, readable by the admin API.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    channel     TEXT NOT NULL CHECK (channel IN ('sms', 'mail', 'captcha')),
    recipient   TEXT NOT NULL,
    code        TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX outbox_by_recipient ON outbox (recipient, id);

CREATE TABLE roles (
    id    INTEGER PRIMARY KEY,
    name  TEXT NOT NULL UNIQUE
);
CREATE TABLE permissions (
    id    INTEGER PRIMARY KEY,
    name  TEXT NOT NULL UNIQUE
);
CREATE TABLE role_permissions (
    role_id        INTEGER NOT NULL REFERENCES roles (id),
    permission_id  INTEGER NOT NULL REFERENCES permissions (id),
    PRIMARY KEY (role_id, permission_id)
);
CREATE TABLE user_roles (
    user_id  INTEGER NOT NULL REFERENCES users (id),
    role_id  INTEGER NOT NULL REFERENCES roles (id),
    PRIMARY KEY (user_id, role_id)
);

INSERT INTO roles (id, name) VALUES (1, 'super-admin');
INSERT INTO permissions (id, name) VALUES
    (1, '搜索管理'), (2, '首页推荐管理'), (3, '新闻管理'), (4, '帮助中心管理'), (5, '活动管理'),
    (6, '场景用途管理'), (7, '商品管理'), (8, '订单管理'), (9, '积分管理'), (10, '用户管理'),
    (11, '客服工具管理'), (12, '优惠券管理'), (13, '财务管理'), (14, '配送管理'), (15, '数据中心');
INSERT INTO role_permissions (role_id, permission_id) SELECT 1, id FROM permissions;

-- Member levels: a user's level is the highest whose threshold their history points reach.
-- `discount` is in percent of the price (100 = no discount).
CREATE TABLE member_levels (
    id                 INTEGER PRIMARY KEY,
    name               TEXT NOT NULL,
    accumulate_points  INTEGER NOT NULL UNIQUE CHECK (accumulate_points >= 0),
    discount_percent   INTEGER NOT NULL CHECK (discount_percent BETWEEN 1 AND 100)
);
INSERT INTO member_levels (id, name, accumulate_points, discount_percent) VALUES
    (1, '普通会员', 0, 100), (2, '白银会员', 1000, 98), (3, '黄金会员', 5000, 95), (4, '钻石会员', 20000, 90);

-- Append-only ledgers. `surplus` is the figure after the entry; it can never be negative, and
-- the user's current figure is the latest entry's surplus.
CREATE TABLE points_records (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    number      INTEGER NOT NULL CHECK (number <> 0),
    surplus     INTEGER NOT NULL CHECK (surplus >= 0),
    describe    TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX points_records_by_user ON points_records (user_id, id);

CREATE TABLE balance_records (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    number      INTEGER NOT NULL CHECK (number <> 0),
    surplus     INTEGER NOT NULL CHECK (surplus >= 0),
    describe    TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX balance_records_by_user ON balance_records (user_id, id);
