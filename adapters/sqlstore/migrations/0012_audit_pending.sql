-- Audit records written in the same transaction as the act they record (a login, ...), so
-- there is never one without the other. A sealer moves them into audit_log under the
-- audit_head lock, chaining each as AppendAudit does; acts never wait for that lock.
CREATE TABLE audit_pending (
    id      {{serial}},
    at      BIGINT NOT NULL,
    kind    TEXT NOT NULL,
    actor   TEXT NOT NULL,
    details TEXT NOT NULL
);
