-- Remote signing (package signing). A request row holds its documents' metadata as JSON;
-- the bytes live in signing_documents, a rowid table because its rows are large (WITHOUT
-- ROWID suits small rows only). idempotency_key is NULL when none was sent, so the unique
-- constraint binds only keys a client chose. signed is NULL until the document's one
-- signature is stored; it is never overwritten.
CREATE TABLE signing_requests (
    id              TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    citizen_id      TEXT NOT NULL,
    reason          TEXT NOT NULL,
    location        TEXT NOT NULL,
    level           TEXT NOT NULL,
    status          TEXT NOT NULL,
    documents       TEXT NOT NULL,
    callback_url    TEXT NOT NULL,
    idempotency_key TEXT,
    fingerprint     TEXT NOT NULL,
    approved_hashes TEXT NOT NULL,
    failure         TEXT NOT NULL,
    worker          TEXT NOT NULL,
    lease_until     BIGINT NOT NULL,
    attempts        INTEGER NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    version         BIGINT NOT NULL,
    UNIQUE (client_id, idempotency_key)
) {{without_rowid}};
CREATE INDEX signing_requests_client ON signing_requests (client_id, subject, created_at);
CREATE INDEX signing_requests_status ON signing_requests (status, expires_at);

CREATE TABLE signing_documents (
    request_id TEXT NOT NULL REFERENCES signing_requests (id) ON DELETE CASCADE,
    idx        INTEGER NOT NULL,
    original   {{bytes}} NOT NULL,
    signed     {{bytes}},
    PRIMARY KEY (request_id, idx)
);

-- A citizen's current signing certificate, reused until it expires or is revoked.
-- chain is a JSON list of base64 DER certificates, the issuing CA first.
CREATE TABLE citizen_certs (
    citizen_id TEXT PRIMARY KEY,
    serial     TEXT NOT NULL,
    cert       {{bytes}} NOT NULL,
    chain      TEXT NOT NULL,
    not_after  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
) {{without_rowid}};
