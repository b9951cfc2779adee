-- The citizen's own page (/me, package account) reads a citizen's records across tables:
-- these indexes keep each of those reads to the citizen's own rows.
CREATE INDEX sessions_citizen_id ON sessions (citizen_id, created_at);
CREATE INDEX auth_codes_citizen_id ON auth_codes (citizen_id, client_id);
CREATE INDEX refresh_tokens_citizen_id ON refresh_tokens (citizen_id, client_id);
CREATE INDEX signing_requests_citizen_id ON signing_requests (citizen_id, created_at);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX client_subjects_citizen_id ON client_subjects (citizen_id);

-- How many times a citizen replaced their signing key (signing.KeyEpochs): the vault
-- never deletes or changes a key, so a replaced key gets a new label with the epoch.
CREATE TABLE citizen_key_epochs (
    citizen_id TEXT PRIMARY KEY,
    epoch      BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
) {{without_rowid}};
