-- Rate limits shared by every replica: one counter per (hashed key, fixed window), taken
-- with one atomic upsert; rows whose window has ended are deleted by expires_at.
CREATE TABLE rate_limits (
    limit_key    TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits         BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (limit_key, window_start)
) {{without_rowid}};
CREATE INDEX rate_limits_expires_at ON rate_limits (expires_at);
