-- Used private_key_jwt assertion IDs: an assertion is single-use (OIDC Core 9).
CREATE TABLE client_assertions (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
) {{without_rowid}};
CREATE INDEX client_assertions_expires_at ON client_assertions (expires_at);
