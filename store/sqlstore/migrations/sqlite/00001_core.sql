-- Core schema (SQLite). Keep in step with ../postgres/00001_core.sql:
-- same tables, columns, constraints and index names.
-- Times are unix milliseconds; roles and amr are JSON arrays of strings.

-- +goose Up
CREATE TABLE users (
    id               TEXT    NOT NULL PRIMARY KEY,
    email            TEXT    NOT NULL,
    email_normalized TEXT    NOT NULL,
    email_verified   INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    name             TEXT    NOT NULL DEFAULT '',
    roles            TEXT    NOT NULL DEFAULT '[]',
    disabled         INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    password_hash    TEXT    NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX users_email_normalized_key ON users (email_normalized);

CREATE TABLE sessions (
    id                  TEXT    NOT NULL PRIMARY KEY,
    user_id             TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash          TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    last_seen_at        INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    authenticated_at    INTEGER NOT NULL,
    amr                 TEXT    NOT NULL DEFAULT '[]',
    aal                 INTEGER NOT NULL DEFAULT 1,
    ip                  TEXT    NOT NULL DEFAULT '',
    user_agent          TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE UNIQUE INDEX sessions_token_hash_key ON sessions (token_hash);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_absolute_expires_at_idx ON sessions (absolute_expires_at);
CREATE INDEX sessions_last_seen_at_idx ON sessions (last_seen_at);

-- +goose Down
DROP TABLE sessions;
DROP TABLE users;
