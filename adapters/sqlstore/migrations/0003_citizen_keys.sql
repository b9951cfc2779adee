-- Citizens' personal signing keys for the software vault (keys/vault): one per label
-- ("citizen/<citizen-id>"), PKCS #8 sealed with AES-256-GCM and bound to label and alg,
-- beside the PKIX DER public key. Rows are never updated or deleted: a key's label is
-- taken for good, which lets replicas cache unsealed keys.
CREATE TABLE citizen_keys (
    label      TEXT PRIMARY KEY,
    alg        TEXT NOT NULL,
    sealed     {{bytes}} NOT NULL,
    public     {{bytes}} NOT NULL,
    created_at BIGINT NOT NULL
) {{without_rowid}};
