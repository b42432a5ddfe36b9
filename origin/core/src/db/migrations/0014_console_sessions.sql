-- The web console's sign-ins (back-office issue). A console session rides on an ordinary
-- session row (`sessions`), so everything that ends sessions — sign-out, an admin revoking one
-- or all of a user's sessions, disabling the account — ends the console's too. The cookie
-- carries a random secret; only its SHA-256 is stored, so a copy of the database signs nobody
-- in. `csrf` is the form token every state-changing request must echo.
CREATE TABLE console_sessions (
    token_hash  TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions (id),
    csrf        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX console_sessions_by_session ON console_sessions (session_id);
