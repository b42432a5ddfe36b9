-- Instructions for the edge from writes that did not pass through it (admin actions, operator
-- commands, payment callbacks). Delivered to the edge's invalidation endpoint, retried with
-- back-off until it accepts them.
CREATE TABLE edge_outbox (
    id               INTEGER PRIMARY KEY,
    instructions     TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    delivered_at     INTEGER,
    last_error       TEXT
);
CREATE INDEX edge_outbox_pending ON edge_outbox (next_attempt_at) WHERE delivered_at IS NULL;
