-- Durable delivery of SMS and e-mail (providers issue). A code's message is recorded here in the
-- transaction that creates the code and sent by the delivery worker, with retries and back-off;
-- each attempt is kept. `sealed` holds the code, encrypted (AES-256-GCM, key derived from the
-- code pepper), only while the message waits: it is cleared once the message is sent or
-- abandoned. Messages the development outbox takes are recorded as sent at once, with nothing
-- sealed (the outbox table keeps their text).
CREATE TABLE deliveries (
    id                  INTEGER PRIMARY KEY,
    channel             TEXT NOT NULL CHECK (channel IN ('sms', 'mail')),
    kind                TEXT NOT NULL CHECK (kind IN ('code', 'notice')),
    recipient           TEXT NOT NULL,
    provider            TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'expired', 'skipped')),
    sealed              TEXT,
    -- A notice's text (it carries no secret); NULL for codes, whose text is made when sent.
    body                TEXT,
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     INTEGER NOT NULL,
    -- When a code stops being worth sending (the code's own expiry); a notice's give-up time.
    give_up_at          INTEGER NOT NULL,
    code_lifetime_secs  INTEGER NOT NULL DEFAULT 0,
    provider_message_id TEXT,
    last_error          TEXT,
    created_at          INTEGER NOT NULL,
    finished_at         INTEGER,
    CHECK (status = 'pending' OR sealed IS NULL)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_recipient ON deliveries (recipient, id);

CREATE TABLE delivery_attempts (
    id                  INTEGER PRIMARY KEY,
    delivery_id         INTEGER NOT NULL REFERENCES deliveries (id),
    at                  INTEGER NOT NULL,
    outcome             TEXT NOT NULL CHECK (outcome IN ('sent', 'retry', 'failed')),
    provider_message_id TEXT,
    error               TEXT,
    took_ms             INTEGER NOT NULL
);
CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts (delivery_id, id);
