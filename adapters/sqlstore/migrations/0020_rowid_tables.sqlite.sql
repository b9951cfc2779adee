-- citizens and sessions become rowid tables on SQLite (PostgreSQL runs nothing here). A
-- WITHOUT ROWID row keeps at most about 1000 bytes in its b-tree page, and these rows are
-- about that or more: a citizen with ten verified attributes, a session holding the eID's
-- ID token (kept when the eID offers logout). Each spilled into an overflow page of its
-- own, mostly empty: 4.7 KB per citizen on disk, and a page more written per first login
-- and per session. A rowid table keeps rows of up to about 4000 bytes in its leaves, for
-- the price of a second b-tree for the id, whose time-ordered keys go to its newest page.

ALTER TABLE citizens RENAME TO citizens_without_rowid;
CREATE TABLE citizens (
    id         TEXT PRIMARY KEY NOT NULL,
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    cccd       TEXT NOT NULL,
    attributes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (issuer, subject)
);
INSERT INTO citizens (id, issuer, subject, cccd, attributes, created_at, updated_at)
    SELECT id, issuer, subject, cccd, attributes, created_at, updated_at FROM citizens_without_rowid ORDER BY id;
DROP TABLE citizens_without_rowid;

ALTER TABLE sessions RENAME TO sessions_without_rowid;
CREATE TABLE sessions (
    id                TEXT PRIMARY KEY NOT NULL,
    citizen_id        TEXT NOT NULL,
    auth_time         BIGINT NOT NULL,
    acr               TEXT NOT NULL,
    amr               TEXT NOT NULL,
    upstream_id_token TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL
);
INSERT INTO sessions (id, citizen_id, auth_time, acr, amr, upstream_id_token, created_at, expires_at)
    SELECT id, citizen_id, auth_time, acr, amr, upstream_id_token, created_at, expires_at FROM sessions_without_rowid ORDER BY id;
DROP TABLE sessions_without_rowid;
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_citizen_id ON sessions (citizen_id, created_at);
