-- A pending request whose citizen is over the approval rate limit records until when
-- (Unix ms; 0: not blocked), so the portal sees it in the status and the callback.
ALTER TABLE signing_requests ADD COLUMN blocked_until BIGINT NOT NULL DEFAULT 0;
