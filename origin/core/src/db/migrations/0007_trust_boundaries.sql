-- Sign-in abuse (SPEC §6): password attempts are counted per key before the password is
-- hashed, so concurrency cannot evaluate more than the allowed number, and names nobody holds
-- are counted exactly like accounts. Keys: `u:<user id>` for an account, `n:<kind>:<name>` for
-- a name nobody holds; the admin listener's own counter prefixes `admin:`.
CREATE TABLE sign_in_attempts (
    key  TEXT NOT NULL,
    at   INTEGER NOT NULL
);
CREATE INDEX sign_in_attempts_by_key ON sign_in_attempts (key, at);
CREATE INDEX sign_in_attempts_by_time ON sign_in_attempts (at);

CREATE TABLE sign_in_locks (
    key    TEXT PRIMARY KEY,
    until  INTEGER NOT NULL
) WITHOUT ROWID;

-- The per-account failure count and lock move here.
INSERT INTO sign_in_attempts (key, at) SELECT 'u:' || user_id, at FROM login_failures;
INSERT INTO sign_in_locks (key, until)
    SELECT 'u:' || id, locked_until FROM users WHERE locked_until > 0;
DROP TABLE login_failures;
ALTER TABLE users DROP COLUMN locked_until;

-- One handset is one phone (SPEC §4): mainland mobiles stored as +86… become their 11 digits.
-- Before, only `+86` could reach storage (validation refused `0086…` and `86…`). Where two
-- accounts held one handset in two spellings, the older account (by creation, then id) keeps
-- the phone and the other loses it, with an audit entry saying whether it still has another
-- way to sign in (an operator can then reach its owner or merge the two).
CREATE TEMP TABLE phone_clashes AS
    SELECT plain.id AS plain_id, plus.id AS plus_id,
           CASE WHEN (plus.created_at, plus.id) < (plain.created_at, plain.id)
                THEN plain.id ELSE plus.id END AS loser
    FROM users AS plain JOIN users AS plus ON plus.phone = '+86' || plain.phone
    WHERE plus.phone GLOB '+861[3-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]';
INSERT INTO audit_log (actor_id, actor, action, target_user, detail, ip, created_at)
    SELECT NULL, 'migration', 'user.phone_unbound', u.id,
           json_object('phone', u.phone,
                       'reason', 'the same handset is bound to an older account',
                       'other_sign_in',
                       json(CASE WHEN (u.account IS NOT NULL AND u.password_hash IS NOT NULL)
                                   OR u.email IS NOT NULL OR u.wechat_openid IS NOT NULL
                                 THEN 'true' ELSE 'false' END)),
           'local', CAST(strftime('%s', 'now') AS INTEGER)
    FROM users AS u WHERE u.id IN (SELECT loser FROM phone_clashes);
UPDATE users SET phone = NULL WHERE id IN (SELECT loser FROM phone_clashes);
UPDATE users SET phone = substr(phone, 4)
WHERE phone GLOB '+861[3-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]';
DROP TABLE phone_clashes;
UPDATE verification_codes SET target = substr(target, 4)
WHERE channel = 'sms'
  AND target GLOB '+861[3-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]';
UPDATE addresses SET contact_phone = substr(contact_phone, 4)
WHERE contact_phone GLOB '+861[3-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]';

-- When a phone or e-mail was bound to an existing account (`POST /api/login_modes`); NULL for
-- one given at registration. A channel bound less than a day ago cannot reset the password, so
-- a stolen access token that binds a channel of its own cannot turn it into the password at once.
ALTER TABLE users ADD COLUMN phone_bound_at INTEGER;
ALTER TABLE users ADD COLUMN email_bound_at INTEGER;

-- Per-network counters (SPEC §6) key on the client's network; the columns keep their names.
-- Codes and captchas issued before this migration keep the address they were counted under.
