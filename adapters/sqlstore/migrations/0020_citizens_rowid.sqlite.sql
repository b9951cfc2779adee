-- citizens becomes a rowid table on SQLite (PostgreSQL runs nothing here). A WITHOUT
-- ROWID row keeps at most about 1000 bytes in its b-tree page; a citizen with ten
-- verified attributes is about that, so nearly every row spilled into an overflow page of
-- its own, mostly empty: 4.7 KB per citizen on disk and one more page written per first
-- login. A rowid table keeps rows of up to about 4000 bytes in its leaves, for the price
-- of a second b-tree for the id, whose time-ordered keys all go to its newest page.

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
