-- Core schema (PostgreSQL). Keep in step with ../sqlite/00001_core.sql:
-- same tables, columns, constraints and index names.
-- Times are unix milliseconds; roles and amr are JSON arrays of strings.
-- IDs use the "C" collation so that ORDER BY id and id > $1 compare bytes,
-- exactly like SQLite's BINARY collation, whatever the database's locale.

-- +goose Up
CREATE TABLE users (
    id               TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    email            TEXT    NOT NULL,
    email_normalized TEXT    NOT NULL,
    email_verified   BOOLEAN NOT NULL DEFAULT FALSE,
    name             TEXT    NOT NULL DEFAULT '',
    roles            TEXT    NOT NULL DEFAULT '[]',
    disabled         BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash    TEXT    NOT NULL DEFAULT '',
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL
);

CREATE UNIQUE INDEX users_email_normalized_key ON users (email_normalized);

CREATE TABLE sessions (
    id                  TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    user_id             TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash          TEXT    NOT NULL,
    created_at          BIGINT  NOT NULL,
    last_seen_at        BIGINT  NOT NULL,
    absolute_expires_at BIGINT  NOT NULL,
    authenticated_at    BIGINT  NOT NULL,
    amr                 TEXT    NOT NULL DEFAULT '[]',
    aal                 INTEGER NOT NULL DEFAULT 1,
    ip                  TEXT    NOT NULL DEFAULT '',
    user_agent          TEXT    NOT NULL DEFAULT ''
);

CREATE UNIQUE INDEX sessions_token_hash_key ON sessions (token_hash);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_absolute_expires_at_idx ON sessions (absolute_expires_at);
CREATE INDEX sessions_last_seen_at_idx ON sessions (last_seen_at);

-- +goose Down
DROP TABLE sessions;
DROP TABLE users;
