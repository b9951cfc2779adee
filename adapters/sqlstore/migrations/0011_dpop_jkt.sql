-- DPoP (RFC 9449 10): an authorization request's dpop_jkt, and the code issued for it, name
-- the key whose proof must redeem the code.
ALTER TABLE auth_requests ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_codes ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
