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
-- Before, only `+86` could reach storage (validation refused `0086…` and `86…`).
UPDATE users SET phone = substr(phone, 4)
WHERE phone GLOB '+861[3-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'
  AND NOT EXISTS (SELECT 1 FROM users AS other WHERE other.phone = substr(users.phone, 4));
-- A +86 spelling whose 11 digits another account already holds was a second account for one
-- handset. The older account keeps the phone; this one loses it, and the audit log says so
-- (an operator can reach its owner through its other sign-in names).
INSERT INTO audit_log (actor_id, actor, action, target_user, detail, ip, created_at)
    SELECT NULL, 'migration', 'user.phone_unbound', id,
           json_object('phone', phone, 'reason', 'the same handset is bound to another account'),
           'local', CAST(strftime('%s', 'now') AS INTEGER)
    FROM users
    WHERE phone GLOB '+861[3-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]';
UPDATE users SET phone = NULL
WHERE phone GLOB '+861[3-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]';
UPDATE verification_codes SET target = substr(target, 4)
WHERE channel = 'sms'
  AND target GLOB '+861[3-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]';
UPDATE addresses SET contact_phone = substr(contact_phone, 4)
WHERE contact_phone GLOB '+861[3-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]';

-- Per-network counters (SPEC §6) key on the client's network; the columns keep their names.
-- Codes and captchas issued before this migration keep the address they were counted under.
