-- The append-only audit log: records chained by SHA-256 (hash covers seq, at, kind, actor,
-- details and prev_hash). audit_head is the single row every append locks, so appends from
-- any number of replicas are serialized and the chain never forks; it also remembers the
-- last record, so removing the newest records shows.
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    actor     TEXT NOT NULL,
    details   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');
