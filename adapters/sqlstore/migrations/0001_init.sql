-- One schema for SQLite and PostgreSQL. Times are Unix milliseconds (0 = zero time), lists
-- and maps are JSON text, booleans are 0/1. {{bytes}}, {{serial}} and {{without_rowid}} are
-- the only dialect words; migrate.go substitutes them. WITHOUT ROWID keeps a SQLite table
-- with a text key in one b-tree instead of two: one page fewer written per insert.
-- Indexes exist for queries that exist; each costs a page write per insert on SQLite.

CREATE TABLE clients (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    secret_hash               TEXT NOT NULL,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    allowed_scopes            TEXT NOT NULL,
    auth_method               TEXT NOT NULL,
    jwks                      TEXT NOT NULL,
    jwks_uri                  TEXT NOT NULL,
    subject_type              TEXT NOT NULL,
    id_token_alg              TEXT NOT NULL,
    first_party               INTEGER NOT NULL,
    updated_at                BIGINT NOT NULL
) {{without_rowid}};

CREATE TABLE citizens (
    id         TEXT PRIMARY KEY,
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    cccd       TEXT NOT NULL,
    attributes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (issuer, subject)
) {{without_rowid}};

CREATE TABLE sessions (
    id                TEXT PRIMARY KEY,
    citizen_id        TEXT NOT NULL,
    auth_time         BIGINT NOT NULL,
    acr               TEXT NOT NULL,
    amr               TEXT NOT NULL,
    upstream_id_token TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL
) {{without_rowid}};
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- upstream_state is NULL while empty, so the unique index holds only live round trips.
CREATE TABLE auth_requests (
    id                    TEXT PRIMARY KEY,
    client_id             TEXT NOT NULL,
    redirect_uri          TEXT NOT NULL,
    response_mode         TEXT NOT NULL,
    scopes                TEXT NOT NULL,
    state                 TEXT NOT NULL,
    nonce                 TEXT NOT NULL,
    code_challenge        TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL,
    prompt                TEXT NOT NULL,
    max_age               INTEGER NOT NULL,
    acr_values            TEXT NOT NULL,
    claims                TEXT NOT NULL,
    ui_locales            TEXT NOT NULL,
    login_hint            TEXT NOT NULL,
    upstream_state        TEXT,
    upstream_nonce        TEXT NOT NULL,
    upstream_verifier     TEXT NOT NULL,
    session_id            TEXT NOT NULL,
    csrf_token            TEXT NOT NULL,
    created_at            BIGINT NOT NULL,
    expires_at            BIGINT NOT NULL
) {{without_rowid}};
CREATE UNIQUE INDEX auth_requests_upstream_state ON auth_requests (upstream_state);
CREATE INDEX auth_requests_expires_at ON auth_requests (expires_at);

-- used_at is 0 until the code is consumed.
CREATE TABLE auth_codes (
    id                    TEXT PRIMARY KEY,
    client_id             TEXT NOT NULL,
    redirect_uri          TEXT NOT NULL,
    citizen_id            TEXT NOT NULL,
    session_id            TEXT NOT NULL,
    scopes                TEXT NOT NULL,
    nonce                 TEXT NOT NULL,
    code_challenge        TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL,
    claims                TEXT NOT NULL,
    auth_time             BIGINT NOT NULL,
    acr                   TEXT NOT NULL,
    amr                   TEXT NOT NULL,
    created_at            BIGINT NOT NULL,
    expires_at            BIGINT NOT NULL,
    used_at               BIGINT NOT NULL
) {{without_rowid}};
CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);

CREATE TABLE refresh_tokens (
    id         TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    citizen_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    claims     TEXT NOT NULL,
    auth_time  BIGINT NOT NULL,
    acr        TEXT NOT NULL,
    amr        TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT NOT NULL,
    revoked    INTEGER NOT NULL
) {{without_rowid}};
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

CREATE TABLE consents (
    citizen_id TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (citizen_id, client_id)
) {{without_rowid}};

-- seq keeps insertion order among releases recorded in the same millisecond.
CREATE TABLE releases (
    seq        {{serial}},
    citizen_id TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    claims     TEXT NOT NULL,
    via        TEXT NOT NULL,
    at         BIGINT NOT NULL
);
CREATE INDEX releases_citizen_id ON releases (citizen_id, at, seq);

CREATE TABLE token_keys (
    id         TEXT PRIMARY KEY,
    alg        TEXT NOT NULL,
    sealed     {{bytes}} NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    active_at  BIGINT NOT NULL,
    retire_at  BIGINT NOT NULL
) {{without_rowid}};
CREATE INDEX token_keys_created_at ON token_keys (created_at, id);
