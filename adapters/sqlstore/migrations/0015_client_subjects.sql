-- The sub each client was given for each citizen (idp/store.Subjects): a pairwise sub is a
-- one-way hash, so signing resolves a client's subject to its citizen here. Rows are
-- written when tokens are minted; a citizen is known to a client from their first token.
CREATE TABLE client_subjects (
    client_id  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    citizen_id TEXT NOT NULL,
    first_at   BIGINT NOT NULL,
    PRIMARY KEY (client_id, subject)
) {{without_rowid}};
