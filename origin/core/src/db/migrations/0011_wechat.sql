-- WeChat sign-in and binding (providers issue). A WeChat user is known by the unionid when
-- WeChat gives one (the same person across every app of one open-platform account), else by
-- (app id, openid). An account holds at most one WeChat identity: its unionid, if known, on the
-- user row (so one unionid names one account), and one openid per app it signed in through.
--
-- `users.wechat_openid` was never written (WeChat sign-in answered 501 until now); it becomes
-- the unionid column, keeping its UNIQUE constraint.
ALTER TABLE users RENAME COLUMN wechat_openid TO wechat_unionid;

CREATE TABLE wechat_openids (
    app_id    TEXT NOT NULL,
    openid    TEXT NOT NULL,
    user_id   INTEGER NOT NULL REFERENCES users (id),
    bound_at  INTEGER NOT NULL,
    PRIMARY KEY (app_id, openid),
    UNIQUE (user_id, app_id)
) WITHOUT ROWID;
