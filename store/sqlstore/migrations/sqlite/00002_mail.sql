-- One-time email tokens, known devices and the mail outbox (SQLite).
-- Keep in step with ../postgres/00002_mail.sql: same tables, columns,
-- constraints and index names.
-- Times are unix milliseconds; 0 stands for "none" (sent_at while pending,
-- lease_until of an unclaimed mail).

-- +goose Up
CREATE TABLE email_tokens (
    id               TEXT    NOT NULL PRIMARY KEY,
    user_id          TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose          TEXT    NOT NULL,
    token_hash       TEXT    NOT NULL,
    email            TEXT    NOT NULL,
    email_normalized TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX email_tokens_token_hash_key ON email_tokens (token_hash);
CREATE INDEX email_tokens_user_id_purpose_idx ON email_tokens (user_id, purpose);
CREATE INDEX email_tokens_expires_at_idx ON email_tokens (expires_at);

CREATE TABLE known_devices (
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key_hash      TEXT    NOT NULL,
    first_seen_at INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, key_hash)
) STRICT;

CREATE INDEX known_devices_last_seen_at_idx ON known_devices (last_seen_at);

CREATE TABLE mail_outbox (
    id              TEXT    NOT NULL PRIMARY KEY,
    kind            TEXT    NOT NULL,
    recipient_hint  TEXT    NOT NULL DEFAULT '',
    payload         BLOB    NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'sent', 'skipped', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    sent_at         INTEGER NOT NULL DEFAULT 0,
    lease_owner     TEXT    NOT NULL DEFAULT '',
    lease_until     INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX mail_outbox_state_next_attempt_at_idx ON mail_outbox (state, next_attempt_at);
CREATE INDEX mail_outbox_sent_at_idx ON mail_outbox (sent_at);

CREATE TABLE mail_rate (
    key          TEXT    NOT NULL PRIMARY KEY,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL
) STRICT;

CREATE INDEX mail_rate_window_start_idx ON mail_rate (window_start);

-- +goose Down
DROP TABLE mail_rate;
DROP TABLE mail_outbox;
DROP TABLE known_devices;
DROP TABLE email_tokens;
