-- Account throttle counters and the audit log (SQLite).
-- Keep in step with ../postgres/00003_throttle_audit.sql: same tables,
-- columns, constraints and index names.
-- Times are unix milliseconds. A sign_in_attempts row with failures = 0
-- has no day yet (its day starts at the next failure); next_at = 0 means
-- no wait.

-- +goose Up
CREATE TABLE sign_in_attempts (
    key       TEXT    NOT NULL PRIMARY KEY,
    failures  INTEGER NOT NULL,
    day_start INTEGER NOT NULL,
    next_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX sign_in_attempts_day_start_idx ON sign_in_attempts (day_start);

CREATE TABLE audit_events (
    id         TEXT    NOT NULL PRIMARY KEY,
    at         INTEGER NOT NULL,
    type       TEXT    NOT NULL,
    actor_id   TEXT    NOT NULL DEFAULT '',
    subject_id TEXT    NOT NULL DEFAULT '',
    ip         TEXT    NOT NULL DEFAULT '',
    user_agent TEXT    NOT NULL DEFAULT '',
    request_id TEXT    NOT NULL DEFAULT '',
    reason     TEXT    NOT NULL DEFAULT '',
    count      INTEGER NOT NULL DEFAULT 1
) STRICT;

CREATE INDEX audit_events_at_id_idx ON audit_events (at, id);
CREATE INDEX audit_events_actor_id_at_idx ON audit_events (actor_id, at);
CREATE INDEX audit_events_subject_id_at_idx ON audit_events (subject_id, at);
CREATE INDEX audit_events_type_at_idx ON audit_events (type, at);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE sign_in_attempts;
