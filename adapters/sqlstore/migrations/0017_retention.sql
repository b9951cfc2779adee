-- Retention (internal/retention). documents_purged_at (Unix ms; 0: still stored) marks a
-- request whose PDFs the purge deleted, so downloads answer "deleted" rather than "not
-- found", and the purge finds the next requests to clear through an index without
-- walking those already cleared. An ended request never changes again, so updated_at is
-- when it ended.
ALTER TABLE signing_requests ADD COLUMN documents_purged_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX signing_requests_docs_retention ON signing_requests (documents_purged_at, status, updated_at);
CREATE INDEX signing_requests_ended ON signing_requests (status, updated_at);
