-- The back office lifts what keeps a member out (`POST /admin/users/{id}/unlock`): their
-- password lock, and the per-phone / per-e-mail code limits a stranger can use up by asking
-- for their codes. Codes sent to a target before the second of its lift no longer count
-- against those limits (they still count against the sender's network, and still check as
-- before).
CREATE TABLE code_cap_lifts (
    channel   TEXT NOT NULL CHECK (channel IN ('sms', 'mail')),
    target    TEXT NOT NULL,
    lifted_at INTEGER NOT NULL,
    PRIMARY KEY (channel, target)
) WITHOUT ROWID;
