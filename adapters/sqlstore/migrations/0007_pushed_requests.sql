-- Pushed authorization requests (RFC 9126): the validated request, single-use, kept until
-- it expires; and the clients that must push theirs.
CREATE TABLE pushed_requests (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    request    TEXT NOT NULL,
    expires_at BIGINT NOT NULL
) {{without_rowid}};
CREATE INDEX pushed_requests_expires_at ON pushed_requests (expires_at);

ALTER TABLE clients ADD COLUMN require_par INTEGER NOT NULL DEFAULT 0;
