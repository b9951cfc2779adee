-- Token lifecycle: the successor a refresh token was rotated to, so a retry within the
-- reuse grace window can replace it; and the denylist of revoked access tokens (RFC 7009),
-- kept by jti until the token's own expiry.
ALTER TABLE refresh_tokens ADD COLUMN successor_id TEXT NOT NULL DEFAULT '';

CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
) {{without_rowid}};
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);
