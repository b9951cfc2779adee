-- The provider's authorisation taken at the approval (CSC credentials/authorize): the
-- signing time fixed then, the signed-attribute digests it covers (a JSON list of hex),
-- the SAD sealed under the master key, and when it expires. Empty for the local vault.
ALTER TABLE signing_requests ADD COLUMN sign_time BIGINT NOT NULL DEFAULT 0;
ALTER TABLE signing_requests ADD COLUMN authorized_digests TEXT NOT NULL DEFAULT '';
ALTER TABLE signing_requests ADD COLUMN grant_sealed {{bytes}};
ALTER TABLE signing_requests ADD COLUMN grant_expires BIGINT NOT NULL DEFAULT 0;
