-- Back-channel logout (OpenID Connect Back-Channel Logout 1.0): where each client takes
-- logout tokens, and the indexes that find the clients of a session from the codes and
-- refresh tokens issued in it.
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN backchannel_logout_session_required INTEGER NOT NULL DEFAULT 0;

CREATE INDEX auth_codes_session_id ON auth_codes (session_id, client_id);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id, client_id);
