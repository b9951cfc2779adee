-- The dev CA's write-once records: sealed key pairs, issued certificates, revocations.
CREATE TABLE ca_records (
    name TEXT PRIMARY KEY,
    data {{bytes}} NOT NULL
) {{without_rowid}};
