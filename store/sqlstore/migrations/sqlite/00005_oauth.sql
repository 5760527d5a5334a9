-- The OpenID Connect provider's state (SQLite). Keep in step with
-- ../postgres/00005_oauth.sql: same tables, columns, constraints and
-- index names.
-- Times are unix milliseconds; 0 stands for "none" (redeemed_at of a code
-- not yet redeemed, rotated_at of a family that never rotated). Lists
-- (URIs, grant types, scopes) are JSON arrays of strings.
-- Everything hangs off its client and its user, and codes and families off
-- the session the user authorized from: deleting any of them deletes what
-- it issued. A redeemed code is kept until it expires, so that a second
-- redemption is recognised and revokes the family the first one created
-- (oauth_families.code_hash is therefore not a foreign key). Every refresh
-- token a family ever had stays in oauth_refresh_tokens until the family
-- goes, so that a retired one presented again is recognised as reuse.

-- +goose Up
CREATE TABLE oauth_clients (
    id                        TEXT    NOT NULL PRIMARY KEY,
    name                      TEXT    NOT NULL,
    auth_method               TEXT    NOT NULL,
    secret_hash               TEXT    NOT NULL DEFAULT '',
    jwks                      TEXT    NOT NULL DEFAULT '',
    redirect_uris             TEXT    NOT NULL DEFAULT '[]',
    post_logout_redirect_uris TEXT    NOT NULL DEFAULT '[]',
    grant_types               TEXT    NOT NULL DEFAULT '[]',
    scopes                    TEXT    NOT NULL DEFAULT '[]',
    id_token_algorithm        TEXT    NOT NULL DEFAULT '',
    first_party               INTEGER NOT NULL DEFAULT 0 CHECK (first_party IN (0, 1)),
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL
) STRICT;

CREATE TABLE oauth_consents (
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scopes     TEXT    NOT NULL DEFAULT '[]',
    granted_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
) STRICT;

CREATE INDEX oauth_consents_client_id_idx ON oauth_consents (client_id);

CREATE TABLE oauth_codes (
    code_hash      TEXT    NOT NULL PRIMARY KEY,
    client_id      TEXT    NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id        TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id     TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    redirect_uri   TEXT    NOT NULL,
    scopes         TEXT    NOT NULL DEFAULT '[]',
    nonce          TEXT    NOT NULL DEFAULT '',
    code_challenge TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    redeemed_at    INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX oauth_codes_client_id_idx ON oauth_codes (client_id);
CREATE INDEX oauth_codes_user_id_client_id_idx ON oauth_codes (user_id, client_id);
CREATE INDEX oauth_codes_session_id_idx ON oauth_codes (session_id);
CREATE INDEX oauth_codes_expires_at_idx ON oauth_codes (expires_at);

CREATE TABLE oauth_families (
    id            TEXT    NOT NULL PRIMARY KEY,
    client_id     TEXT    NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id    TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    scopes        TEXT    NOT NULL DEFAULT '[]',
    code_hash     TEXT    NOT NULL,
    refresh_hash  TEXT    NOT NULL DEFAULT '',
    previous_hash TEXT    NOT NULL DEFAULT '',
    rotated_at    INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
) STRICT;

CREATE INDEX oauth_families_client_id_idx ON oauth_families (client_id);
CREATE INDEX oauth_families_user_id_client_id_idx ON oauth_families (user_id, client_id);
CREATE INDEX oauth_families_session_id_idx ON oauth_families (session_id);
CREATE INDEX oauth_families_code_hash_idx ON oauth_families (code_hash);
CREATE INDEX oauth_families_expires_at_idx ON oauth_families (expires_at);

CREATE TABLE oauth_refresh_tokens (
    token_hash TEXT NOT NULL PRIMARY KEY,
    family_id  TEXT NOT NULL REFERENCES oauth_families (id) ON DELETE CASCADE
) STRICT;

CREATE INDEX oauth_refresh_tokens_family_id_idx ON oauth_refresh_tokens (family_id);

CREATE TABLE oauth_client_assertions (
    client_id  TEXT    NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    jti        TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
) STRICT;

CREATE INDEX oauth_client_assertions_expires_at_idx ON oauth_client_assertions (expires_at);

-- +goose Down
DROP TABLE oauth_client_assertions;
DROP TABLE oauth_refresh_tokens;
DROP TABLE oauth_families;
DROP TABLE oauth_codes;
DROP TABLE oauth_consents;
DROP TABLE oauth_clients;
