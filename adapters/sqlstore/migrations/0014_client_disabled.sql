-- A client missing from the configuration is disabled, not deleted: its records
-- (consents, signing requests, audit) keep naming it, and listing it again enables it.
ALTER TABLE clients ADD COLUMN disabled_at BIGINT NOT NULL DEFAULT 0;
