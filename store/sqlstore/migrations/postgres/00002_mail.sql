-- One-time email tokens, known devices and the mail outbox (PostgreSQL).
-- Keep in step with ../sqlite/00002_mail.sql: same tables, columns,
-- constraints and index names.
-- Times are unix milliseconds; 0 stands for "none" (sent_at while pending,
-- lease_until of an unclaimed mail). Columns that are compared or ordered
-- use the "C" collation, so they compare bytes exactly like SQLite.

-- +goose Up
CREATE TABLE email_tokens (
    id               TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    user_id          TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose          TEXT    NOT NULL,
    token_hash       TEXT    NOT NULL,
    email            TEXT    NOT NULL,
    email_normalized TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    expires_at       BIGINT  NOT NULL
);

CREATE UNIQUE INDEX email_tokens_token_hash_key ON email_tokens (token_hash);
CREATE INDEX email_tokens_user_id_purpose_idx ON email_tokens (user_id, purpose);
CREATE INDEX email_tokens_expires_at_idx ON email_tokens (expires_at);

CREATE TABLE known_devices (
    user_id       TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key_hash      TEXT COLLATE "C" NOT NULL,
    first_seen_at BIGINT  NOT NULL,
    last_seen_at  BIGINT  NOT NULL,
    PRIMARY KEY (user_id, key_hash)
);

CREATE INDEX known_devices_last_seen_at_idx ON known_devices (last_seen_at);

CREATE TABLE mail_outbox (
    id              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    kind            TEXT    NOT NULL,
    recipient_hint  TEXT    NOT NULL DEFAULT '',
    payload         BYTEA   NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'sent', 'skipped', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      BIGINT  NOT NULL,
    next_attempt_at BIGINT  NOT NULL,
    sent_at         BIGINT  NOT NULL DEFAULT 0,
    lease_owner     TEXT COLLATE "C" NOT NULL DEFAULT '',
    lease_until     BIGINT  NOT NULL DEFAULT 0
);

CREATE INDEX mail_outbox_state_next_attempt_at_idx ON mail_outbox (state, next_attempt_at);
CREATE INDEX mail_outbox_sent_at_idx ON mail_outbox (sent_at);

CREATE TABLE mail_rate (
    key          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    window_start BIGINT  NOT NULL,
    count        INTEGER NOT NULL
);

CREATE INDEX mail_rate_window_start_idx ON mail_rate (window_start);

-- +goose Down
DROP TABLE mail_rate;
DROP TABLE mail_outbox;
DROP TABLE known_devices;
DROP TABLE email_tokens;
