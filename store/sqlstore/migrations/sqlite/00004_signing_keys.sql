-- Token signing keys (SQLite). Keep in step with
-- ../postgres/00004_signing_keys.sql: same table, columns, constraints.
-- private_key is the PKCS #8 key sealed under the master secret (AES-GCM,
-- bound to the key id). Times are unix milliseconds; expires_at = 0 means
-- the key has no successor yet. (algorithm, generation) is unique, so of
-- several nodes rotating at once exactly one adds the next key.

-- +goose Up
CREATE TABLE signing_keys (
    id          TEXT    NOT NULL PRIMARY KEY,
    algorithm   TEXT    NOT NULL,
    generation  INTEGER NOT NULL,
    private_key BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    active_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL DEFAULT 0,
    UNIQUE (algorithm, generation)
) STRICT;

-- +goose Down
DROP TABLE signing_keys;
