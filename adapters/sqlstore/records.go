package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/motlan/motlan/idp/store"
)

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// ---- clients

const clientCols = "id, name, secret_hash, redirect_uris, post_logout_redirect_uris, allowed_scopes, " +
	"auth_method, jwks, jwks_uri, subject_type, id_token_alg, first_party, updated_at, require_par, " +
	"backchannel_logout_uri, backchannel_logout_session_required"

var (
	qUpsertClient = insertSQL("clients", clientCols) + " ON CONFLICT (id) DO UPDATE SET " + setExcluded(clientCols, "id")
	qGetClient    = "SELECT " + clientCols + " FROM clients WHERE id = ?"
	qListClients  = "SELECT " + clientCols + " FROM clients ORDER BY id"
)

func (s *Store) UpsertClient(ctx context.Context, c store.Client) error {
	_, err := s.exec(ctx, qUpsertClient, c.ID, c.Name, c.SecretHash, list(c.RedirectURIs),
		list(c.PostLogoutRedirectURIs), list(c.AllowedScopes), c.AuthMethod, string(c.JWKS), c.JWKSURI,
		c.SubjectType, c.IDTokenAlg, b2i(c.FirstParty), ms(c.UpdatedAt), b2i(c.RequirePAR),
		c.BackchannelLogoutURI, b2i(c.BackchannelLogoutSessionRequired))
	return wrapWrite("upsert client", err)
}

func scanClient(sc scanner) (store.Client, error) {
	var (
		c                      store.Client
		redirect, post, scopes string
		jwks                   string
		first, updated, par    int64
		bcSession              int64
	)
	if err := sc.Scan(&c.ID, &c.Name, &c.SecretHash, &redirect, &post, &scopes, &c.AuthMethod, &jwks,
		&c.JWKSURI, &c.SubjectType, &c.IDTokenAlg, &first, &updated, &par,
		&c.BackchannelLogoutURI, &bcSession); err != nil {
		return c, err
	}
	var d decoder
	c.RedirectURIs, c.PostLogoutRedirectURIs, c.AllowedScopes = d.list(redirect), d.list(post), d.list(scopes)
	c.JWKS, c.FirstParty, c.UpdatedAt, c.RequirePAR = raw(jwks), first != 0, fromMS(updated), par != 0
	c.BackchannelLogoutSessionRequired = bcSession != 0
	return c, d.err
}

func (s *Store) GetClient(ctx context.Context, id string) (store.Client, error) {
	row, err := s.queryRow(ctx, qGetClient, id)
	if err != nil {
		return store.Client{}, wrapRead("get client", err)
	}
	c, err := scanClient(row)
	if err != nil {
		return store.Client{}, wrapRead("get client", err)
	}
	return c, nil
}

func (s *Store) ListClients(ctx context.Context) ([]store.Client, error) {
	rows, err := s.query(ctx, qListClients)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list clients: %w", err)
	}
	defer rows.Close()
	var out []store.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list clients: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list clients: %w", err)
	}
	return out, nil
}

// ---- citizens

const citizenCols = "id, issuer, subject, cccd, attributes, created_at, updated_at"

var (
	qInsertCitizen = insertSQL("citizens", citizenCols) + " ON CONFLICT (issuer, subject) DO NOTHING"
	qGetCitizen    = "SELECT " + citizenCols + " FROM citizens WHERE id = ?"
	qCitizenBySub  = "SELECT " + citizenCols + " FROM citizens WHERE issuer = ? AND subject = ?"
	qUpdateCitizen = "UPDATE citizens SET cccd = ?, attributes = ?, updated_at = ? WHERE id = ?"
)

func scanCitizen(sc scanner) (store.Citizen, error) {
	var (
		c                store.Citizen
		attrs            string
		created, updated int64
	)
	if err := sc.Scan(&c.ID, &c.Issuer, &c.Subject, &c.CCCD, &attrs, &created, &updated); err != nil {
		return c, err
	}
	c.CreatedAt, c.UpdatedAt = fromMS(created), fromMS(updated)
	if attrs != "" {
		if err := json.Unmarshal([]byte(attrs), &c.Attributes); err != nil {
			return c, fmt.Errorf("decode attributes: %w", err)
		}
	}
	return c, nil
}

func encodeAttributes(m map[string]store.Attribute) (string, error) {
	if len(m) == 0 {
		return "", nil
	}
	utc := make(map[string]store.Attribute, len(m))
	for k, a := range m {
		a.VerifiedAt = a.VerifiedAt.UTC()
		if !a.EIDUpdatedAt.IsZero() {
			a.EIDUpdatedAt = a.EIDUpdatedAt.UTC()
		}
		utc[k] = a
	}
	b, err := json.Marshal(utc)
	if err != nil {
		return "", fmt.Errorf("encode attributes: %w", err)
	}
	return string(b), nil
}

// UpsertCitizen creates the citizen for (Issuer, Subject), or keeps the stored ID and
// CreatedAt, replaces a non-empty CCCD and merges attributes. A new citizen without an ID gets a random
// one; zero CreatedAt and UpdatedAt become now.
func (s *Store) UpsertCitizen(ctx context.Context, c store.Citizen) (store.Citizen, error) {
	var out store.Citizen
	err := s.inTx(ctx, func(tx *txn) error {
		var err error
		out, err = s.upsertCitizenTx(tx, c)
		return err
	})
	if err != nil {
		return store.Citizen{}, wrapWrite("upsert citizen", err)
	}
	return out, nil
}

// upsertCitizenTx is UpsertCitizen inside a transaction the caller holds.
func (s *Store) upsertCitizenTx(tx *txn, c store.Citizen) (store.Citizen, error) {
	now := s.now().UTC()
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = now
	}
	var out store.Citizen
	err := func() error {
		merge := func() (bool, error) {
			row, err := tx.queryRow(qCitizenBySub+s.forUpdate(), c.Issuer, c.Subject)
			if err != nil {
				return false, err
			}
			old, err := scanCitizen(row)
			if errors.Is(err, sql.ErrNoRows) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			old.UpdatedAt = c.UpdatedAt
			if c.CCCD != "" {
				old.CCCD = c.CCCD
			}
			if len(c.Attributes) > 0 {
				if old.Attributes == nil {
					old.Attributes = make(map[string]store.Attribute, len(c.Attributes))
				}
				maps.Copy(old.Attributes, c.Attributes)
			}
			attrs, err := encodeAttributes(old.Attributes)
			if err != nil {
				return false, err
			}
			if _, err := tx.exec(qUpdateCitizen, old.CCCD, attrs, ms(old.UpdatedAt), old.ID); err != nil {
				return false, err
			}
			// Read back what was stored, so the caller sees the same precision as a Get.
			old.UpdatedAt = fromMS(ms(old.UpdatedAt))
			old.Attributes, err = roundTrip(attrs)
			out = old
			return true, err
		}
		if done, err := merge(); done || err != nil {
			return err
		}
		if c.ID == "" {
			c.ID = rand.Text()
		}
		if c.CreatedAt.IsZero() {
			c.CreatedAt = now
		}
		attrs, err := encodeAttributes(c.Attributes)
		if err != nil {
			return err
		}
		n, err := tx.exec(qInsertCitizen, c.ID, c.Issuer, c.Subject, c.CCCD, attrs, ms(c.CreatedAt), ms(c.UpdatedAt))
		if err != nil {
			return err
		}
		if n == 0 {
			// Another transaction created it after our read (PostgreSQL; the insert waited
			// for that one to commit): merge into its row.
			if done, err := merge(); done || err != nil {
				return err
			}
			return fmt.Errorf("citizen vanished during upsert: %w", store.ErrConflict)
		}
		c.CreatedAt, c.UpdatedAt = fromMS(ms(c.CreatedAt)), fromMS(ms(c.UpdatedAt))
		c.Attributes, err = roundTrip(attrs)
		out = c
		return err
	}()
	return out, err
}

func roundTrip(attrs string) (map[string]store.Attribute, error) {
	if attrs == "" {
		return nil, nil
	}
	var m map[string]store.Attribute
	err := json.Unmarshal([]byte(attrs), &m)
	return m, err
}

func (s *Store) GetCitizen(ctx context.Context, id string) (store.Citizen, error) {
	row, err := s.queryRow(ctx, qGetCitizen, id)
	if err != nil {
		return store.Citizen{}, wrapRead("get citizen", err)
	}
	c, err := scanCitizen(row)
	if err != nil {
		return store.Citizen{}, wrapRead("get citizen", err)
	}
	return c, nil
}

// ---- sessions

const sessionCols = "id, citizen_id, auth_time, acr, amr, upstream_id_token, created_at, expires_at"

var (
	qInsertSession = insertSQL("sessions", sessionCols)
	qGetSession    = "SELECT " + sessionCols + " FROM sessions WHERE id = ? AND expires_at > ?"
	qDeleteSession = "DELETE FROM sessions WHERE id = ?"
)

func (s *Store) CreateSession(ctx context.Context, v store.Session) error {
	_, err := s.exec(ctx, qInsertSession, v.ID, v.CitizenID, ms(v.AuthTime), v.ACR, list(v.AMR),
		v.UpstreamIDToken, ms(v.CreatedAt), ms(v.ExpiresAt))
	return wrapWrite("create session", err)
}

func (s *Store) GetSession(ctx context.Context, id string) (store.Session, error) {
	var (
		v                         store.Session
		amr                       string
		authTime, created, expiry int64
	)
	row, err := s.queryRow(ctx, qGetSession, id, s.nowMS())
	if err == nil {
		err = row.Scan(&v.ID, &v.CitizenID, &authTime, &v.ACR, &amr, &v.UpstreamIDToken, &created, &expiry)
	}
	if err != nil {
		return store.Session{}, wrapRead("get session", err)
	}
	var d decoder
	v.AMR = d.list(amr)
	v.AuthTime, v.CreatedAt, v.ExpiresAt = fromMS(authTime), fromMS(created), fromMS(expiry)
	if d.err != nil {
		return store.Session{}, fmt.Errorf("sqlstore: get session: %w", d.err)
	}
	return v, nil
}

func (s *Store) DeleteSession(ctx context.Context, id string) error {
	_, err := s.exec(ctx, qDeleteSession, id)
	return wrapWrite("delete session", err)
}

// ---- auth requests

// authRequestMut are the columns UpdateAuthRequest may change: all but id.
const authRequestMut = "client_id, redirect_uri, response_mode, scopes, state, nonce, code_challenge, " +
	"code_challenge_method, prompt, max_age, acr_values, claims, ui_locales, login_hint, upstream_state, " +
	"upstream_nonce, upstream_verifier, session_id, csrf_token, created_at, expires_at, dpop_jkt"

const authRequestCols = "id, " + authRequestMut

var (
	qInsertAuthRequest = insertSQL("auth_requests", authRequestCols)
	qGetAuthRequest    = "SELECT " + authRequestCols + " FROM auth_requests WHERE id = ? AND expires_at > ?"
	qAuthRequestByUp   = "SELECT " + authRequestCols + " FROM auth_requests WHERE upstream_state = ? AND expires_at > ?"
	qUpdateAuthRequest = "UPDATE auth_requests SET " + setParams(authRequestMut) + " WHERE id = ?"
	qDeleteAuthRequest = "DELETE FROM auth_requests WHERE id = ?"
)

// authRequestArgs returns the values of authRequestMut, in order.
func authRequestArgs(r store.AuthRequest) []any {
	var upstream any // NULL while empty, so the unique index ignores it
	if r.UpstreamState != "" {
		upstream = r.UpstreamState
	}
	return []any{r.ClientID, r.RedirectURI, r.ResponseMode, list(r.Scopes), r.State, r.Nonce,
		r.CodeChallenge, r.CodeChallengeMethod, list(r.Prompt), r.MaxAge, list(r.ACRValues),
		string(r.Claims), list(r.UILocales), r.LoginHint, upstream, r.UpstreamNonce,
		r.UpstreamVerifier, r.SessionID, r.CSRFToken, ms(r.CreatedAt), ms(r.ExpiresAt), r.DPoPJKT}
}

func scanAuthRequest(sc scanner) (store.AuthRequest, error) {
	var (
		r                                    store.AuthRequest
		scopes, prompt, acr, claims, locales string
		upstream                             sql.NullString
		created, expires                     int64
	)
	if err := sc.Scan(&r.ID, &r.ClientID, &r.RedirectURI, &r.ResponseMode, &scopes, &r.State, &r.Nonce,
		&r.CodeChallenge, &r.CodeChallengeMethod, &prompt, &r.MaxAge, &acr, &claims, &locales,
		&r.LoginHint, &upstream, &r.UpstreamNonce, &r.UpstreamVerifier, &r.SessionID, &r.CSRFToken,
		&created, &expires, &r.DPoPJKT); err != nil {
		return r, err
	}
	var d decoder
	r.Scopes, r.Prompt, r.ACRValues, r.UILocales = d.list(scopes), d.list(prompt), d.list(acr), d.list(locales)
	r.Claims, r.UpstreamState = raw(claims), upstream.String
	r.CreatedAt, r.ExpiresAt = fromMS(created), fromMS(expires)
	return r, d.err
}

func (s *Store) CreateAuthRequest(ctx context.Context, r store.AuthRequest) error {
	args := append([]any{r.ID}, authRequestArgs(r)...)
	_, err := s.exec(ctx, qInsertAuthRequest, args...)
	return wrapWrite("create auth request", err)
}

func (s *Store) GetAuthRequest(ctx context.Context, id string) (store.AuthRequest, error) {
	return s.getAuthRequest(ctx, "get auth request", qGetAuthRequest, id)
}

func (s *Store) GetAuthRequestByUpstreamState(ctx context.Context, state string) (store.AuthRequest, error) {
	if state == "" {
		return store.AuthRequest{}, fmt.Errorf("sqlstore: get auth request by upstream state: %w", store.ErrNotFound)
	}
	return s.getAuthRequest(ctx, "get auth request by upstream state", qAuthRequestByUp, state)
}

func (s *Store) getAuthRequest(ctx context.Context, op, q, key string) (store.AuthRequest, error) {
	row, err := s.queryRow(ctx, q, key, s.nowMS())
	if err != nil {
		return store.AuthRequest{}, wrapRead(op, err)
	}
	r, err := scanAuthRequest(row)
	if err != nil {
		return store.AuthRequest{}, wrapRead(op, err)
	}
	return r, nil
}

// UpdateAuthRequest reads, applies fn and writes back in one transaction that holds the
// row (PostgreSQL) or the write lock (SQLite) from the read on. fn runs under that lock:
// it must be quick and must not call the store. The ID cannot change.
func (s *Store) UpdateAuthRequest(ctx context.Context, id string, fn func(store.AuthRequest) (store.AuthRequest, error)) (store.AuthRequest, error) {
	var out store.AuthRequest
	var fnErr error
	err := s.inTx(ctx, func(tx *txn) error {
		row, err := tx.queryRow(qGetAuthRequest+s.forUpdate(), id, s.nowMS())
		if err != nil {
			return err
		}
		old, err := scanAuthRequest(row)
		if err != nil {
			return err
		}
		next, err := fn(old)
		if err != nil {
			fnErr = err
			return err
		}
		next.ID = id
		if _, err := tx.exec(qUpdateAuthRequest, append(authRequestArgs(next), id)...); err != nil {
			return err
		}
		// Return what a Get would: times at millisecond precision, in UTC.
		next.CreatedAt, next.ExpiresAt = fromMS(ms(next.CreatedAt)), fromMS(ms(next.ExpiresAt))
		out = next
		return nil
	})
	switch {
	case fnErr != nil:
		return store.AuthRequest{}, fnErr
	case errors.Is(err, sql.ErrNoRows):
		return store.AuthRequest{}, wrapRead("update auth request", err)
	case err != nil:
		return store.AuthRequest{}, wrapWrite("update auth request", err)
	}
	return out, nil
}

func (s *Store) DeleteAuthRequest(ctx context.Context, id string) error {
	n, err := s.exec(ctx, qDeleteAuthRequest, id)
	if err == nil && n == 0 {
		return fmt.Errorf("delete auth request: %w", store.ErrNotFound)
	}
	return wrapWrite("delete auth request", err)
}

// ---- auth codes

const authCodeCols = "id, client_id, redirect_uri, citizen_id, session_id, scopes, nonce, code_challenge, " +
	"code_challenge_method, claims, auth_time, acr, amr, created_at, expires_at, dpop_jkt"

var (
	qInsertAuthCode = insertSQL("auth_codes", authCodeCols+", used_at")
	// The conditional UPDATE is the claim: of concurrent callers exactly one sees a row.
	qConsumeAuthCode = "UPDATE auth_codes SET used_at = ? WHERE id = ? AND used_at = 0 AND expires_at > ? RETURNING " + authCodeCols
	qGetAuthCode     = "SELECT " + authCodeCols + ", used_at FROM auth_codes WHERE id = ? AND expires_at > ?"
)

func (s *Store) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	_, err := s.exec(ctx, qInsertAuthCode, authCodeArgs(c)...)
	return wrapWrite("create auth code", err)
}

// authCodeArgs returns the values of qInsertAuthCode, in order: a new code is unused.
func authCodeArgs(c store.AuthCode) []any {
	return []any{c.ID, c.ClientID, c.RedirectURI, c.CitizenID, c.SessionID,
		list(c.Scopes), c.Nonce, c.CodeChallenge, c.CodeChallengeMethod, string(c.Claims), ms(c.AuthTime),
		c.ACR, list(c.AMR), ms(c.CreatedAt), ms(c.ExpiresAt), c.DPoPJKT, 0}
}

func scanAuthCode(sc scanner, extra ...any) (store.AuthCode, error) {
	var (
		c                          store.AuthCode
		scopes, claims, amr        string
		authTime, created, expires int64
	)
	dest := append([]any{&c.ID, &c.ClientID, &c.RedirectURI, &c.CitizenID, &c.SessionID, &scopes, &c.Nonce,
		&c.CodeChallenge, &c.CodeChallengeMethod, &claims, &authTime, &c.ACR, &amr, &created, &expires, &c.DPoPJKT}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return c, err
	}
	var d decoder
	c.Scopes, c.Claims, c.AMR = d.list(scopes), raw(claims), d.list(amr)
	c.AuthTime, c.CreatedAt, c.ExpiresAt = fromMS(authTime), fromMS(created), fromMS(expires)
	return c, d.err
}

func (s *Store) ConsumeAuthCode(ctx context.Context, id string) (store.AuthCode, error) {
	now := s.nowMS()
	row, err := s.writeQueryRow(ctx, qConsumeAuthCode, now, id, now)
	if err != nil {
		return store.AuthCode{}, wrapWrite("consume auth code", err)
	}
	c, err := scanAuthCode(row)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return store.AuthCode{}, wrapWrite("consume auth code", err)
	}
	// Lost, or nothing to claim: tell used from unknown or expired. The record no longer
	// changes once used, so reading it outside the claim is safe.
	var usedAt int64
	row, err = s.queryRow(ctx, qGetAuthCode, id, now)
	if err == nil {
		c, err = scanAuthCode(row, &usedAt)
	}
	if err != nil {
		return store.AuthCode{}, wrapRead("consume auth code", err)
	}
	if usedAt == 0 {
		// Only reachable if the claim failed for a reason other than use (clock skew
		// between the two statements); the caller may retry.
		return store.AuthCode{}, fmt.Errorf("sqlstore: consume auth code: %w", store.ErrConflict)
	}
	return c, fmt.Errorf("sqlstore: consume auth code: %w", store.ErrAlreadyUsed)
}

// ---- refresh tokens

const refreshCols = "id, family_id, client_id, citizen_id, session_id, scopes, claims, auth_time, acr, amr, " +
	"created_at, expires_at, used_at, revoked, successor_id"

var (
	qInsertRefresh    = insertSQL("refresh_tokens", refreshCols)
	qGetRefresh       = "SELECT " + refreshCols + " FROM refresh_tokens WHERE id = ? AND expires_at > ?"
	qClaimRefresh     = "UPDATE refresh_tokens SET used_at = ?, successor_id = ? WHERE id = ? AND used_at = 0 AND revoked = 0 AND expires_at > ?"
	qRefreshState     = "SELECT used_at, revoked, expires_at FROM refresh_tokens WHERE id = ?"
	qRefreshSuccessor = "SELECT used_at, revoked, expires_at, successor_id FROM refresh_tokens WHERE id = ?"
	qRevokeUnused     = "UPDATE refresh_tokens SET revoked = 1 WHERE id = ? AND used_at = 0 AND revoked = 0 AND expires_at > ?"
	qSetSuccessor     = "UPDATE refresh_tokens SET successor_id = ? WHERE id = ?"
	qRevokeFamily     = "UPDATE refresh_tokens SET revoked = 1 WHERE family_id = ? AND revoked = 0"
)

func refreshArgs(t store.RefreshToken) []any {
	return []any{t.ID, t.FamilyID, t.ClientID, t.CitizenID, t.SessionID, list(t.Scopes), string(t.Claims),
		ms(t.AuthTime), t.ACR, list(t.AMR), ms(t.CreatedAt), ms(t.ExpiresAt), ms(t.UsedAt), b2i(t.Revoked), t.SuccessorID}
}

func (s *Store) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	_, err := s.exec(ctx, qInsertRefresh, refreshArgs(t)...)
	return wrapWrite("create refresh token", err)
}

// GetRefreshToken returns the token, used or revoked ones included; expired ones are
// ErrNotFound.
func (s *Store) GetRefreshToken(ctx context.Context, id string) (store.RefreshToken, error) {
	var (
		t                                         store.RefreshToken
		scopes, claims, amr                       string
		authTime, created, expires, used, revoked int64
	)
	row, err := s.queryRow(ctx, qGetRefresh, id, s.nowMS())
	if err == nil {
		err = row.Scan(&t.ID, &t.FamilyID, &t.ClientID, &t.CitizenID, &t.SessionID, &scopes, &claims,
			&authTime, &t.ACR, &amr, &created, &expires, &used, &revoked, &t.SuccessorID)
	}
	if err != nil {
		return store.RefreshToken{}, wrapRead("get refresh token", err)
	}
	var d decoder
	t.Scopes, t.Claims, t.AMR = d.list(scopes), raw(claims), d.list(amr)
	t.AuthTime, t.CreatedAt, t.ExpiresAt, t.UsedAt = fromMS(authTime), fromMS(created), fromMS(expires), fromMS(used)
	t.Revoked = revoked != 0
	if d.err != nil {
		return store.RefreshToken{}, fmt.Errorf("sqlstore: get refresh token: %w", d.err)
	}
	return t, nil
}

// RotateRefreshToken claims oldID with a conditional UPDATE and inserts next in the same
// transaction. A zero next.CreatedAt is taken as now. A token that is unknown, expired or
// revoked is ErrNotFound even if it was also used; a live, used one is ErrAlreadyUsed.
func (s *Store) RotateRefreshToken(ctx context.Context, oldID string, next store.RefreshToken) error {
	now := s.nowMS()
	if next.CreatedAt.IsZero() {
		next.CreatedAt = fromMS(now)
	}
	err := s.inTx(ctx, func(tx *txn) error {
		n, err := tx.exec(qClaimRefresh, ms(next.CreatedAt), next.ID, oldID, now)
		if err != nil {
			return err
		}
		if n == 1 {
			_, err := tx.exec(qInsertRefresh, refreshArgs(next)...)
			return err
		}
		var used, revoked, expires int64
		row, err := tx.queryRow(qRefreshState, oldID)
		if err == nil {
			err = row.Scan(&used, &revoked, &expires)
		}
		switch {
		case errors.Is(err, sql.ErrNoRows) || (err == nil && (revoked != 0 || expires <= now)):
			return store.ErrNotFound
		case err != nil:
			return err
		default:
			return store.ErrAlreadyUsed
		}
	})
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrAlreadyUsed):
		return fmt.Errorf("sqlstore: rotate refresh token: %w", err)
	default:
		return wrapWrite("rotate refresh token", err)
	}
}

// RotateRefreshTokenAgain locks oldID's row, revokes its successor only while that is
// unused (the same conditional UPDATE a rotation of the successor races with, so exactly
// one of them wins), then repoints oldID and inserts next, in one transaction. The lock
// order (old row, then its successor) is the family's insertion order, the order a family
// revocation takes too.
func (s *Store) RotateRefreshTokenAgain(ctx context.Context, oldID string, next store.RefreshToken) error {
	now := s.nowMS()
	if next.CreatedAt.IsZero() {
		next.CreatedAt = fromMS(now)
	}
	err := s.inTx(ctx, func(tx *txn) error {
		var used, revoked, expires int64
		var successor string
		row, err := tx.queryRow(qRefreshSuccessor+s.forUpdate(), oldID)
		if err == nil {
			err = row.Scan(&used, &revoked, &expires, &successor)
		}
		switch {
		case errors.Is(err, sql.ErrNoRows) || (err == nil && (revoked != 0 || expires <= now)):
			return store.ErrNotFound
		case err != nil:
			return err
		case used == 0:
			return store.ErrConflict
		case successor == "":
			return store.ErrAlreadyUsed // rotated before successors were recorded
		}
		n, err := tx.exec(qRevokeUnused, successor, now)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrAlreadyUsed
		}
		if _, err := tx.exec(qSetSuccessor, next.ID, oldID); err != nil {
			return err
		}
		_, err = tx.exec(qInsertRefresh, refreshArgs(next)...)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrAlreadyUsed), errors.Is(err, store.ErrConflict):
		return fmt.Errorf("sqlstore: rotate refresh token again: %w", err)
	default:
		return wrapWrite("rotate refresh token again", err)
	}
}

// qSessionClients reads the clients of a session from the records that already carry it,
// so logins write nothing more; both tables are indexed on (session_id, client_id). It
// reads committed rows and takes no lock: the caller deletes the session first, so only a
// code whose issue was already under way can be missed.
const qSessionClients = "SELECT client_id FROM auth_codes WHERE session_id = ? " +
	"UNION SELECT client_id FROM refresh_tokens WHERE session_id = ? ORDER BY client_id"

func (s *Store) SessionClients(ctx context.Context, sessionID string) ([]string, error) {
	if sessionID == "" {
		return nil, nil
	}
	rows, err := s.query(ctx, qSessionClients, sessionID, sessionID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: session clients: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("sqlstore: session clients: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: session clients: %w", err)
	}
	return out, nil
}

func (s *Store) RevokeRefreshFamily(ctx context.Context, familyID string) error {
	_, err := s.exec(ctx, qRevokeFamily, familyID)
	return wrapWrite("revoke refresh family", err)
}

// ---- revoked access tokens

var (
	qRevokeToken  = insertSQL("revoked_tokens", "jti, expires_at") + " ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at"
	qTokenRevoked = "SELECT 1 FROM revoked_tokens WHERE jti = ? AND expires_at > ?"
)

// RevokeToken denylists jti; a second revocation (or one of an expired entry not yet
// collected) sets the entry's expiry to expiresAt.
func (s *Store) RevokeToken(ctx context.Context, jti string, expiresAt time.Time) error {
	_, err := s.exec(ctx, qRevokeToken, jti, ms(expiresAt))
	return wrapWrite("revoke token", err)
}

// TokenRevoked is one primary-key lookup on the read pool.
func (s *Store) TokenRevoked(ctx context.Context, jti string) (bool, error) {
	var one int
	row, err := s.queryRow(ctx, qTokenRevoked, jti, s.nowMS())
	if err == nil {
		err = row.Scan(&one)
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, wrapRead("token revoked", err)
	}
	return true, nil
}

// ---- consents

var (
	qUpsertConsent = insertSQL("consents", "citizen_id, client_id, scopes, granted_at") +
		" ON CONFLICT (citizen_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at"
	qGetConsent = "SELECT citizen_id, client_id, scopes, granted_at FROM consents WHERE citizen_id = ? AND client_id = ?"
)

func (s *Store) GetConsent(ctx context.Context, citizenID, clientID string) (store.Consent, error) {
	var (
		c       store.Consent
		scopes  string
		granted int64
	)
	row, err := s.queryRow(ctx, qGetConsent, citizenID, clientID)
	if err == nil {
		err = row.Scan(&c.CitizenID, &c.ClientID, &scopes, &granted)
	}
	if err != nil {
		return store.Consent{}, wrapRead("get consent", err)
	}
	var d decoder
	c.Scopes, c.GrantedAt = d.list(scopes), fromMS(granted)
	if d.err != nil {
		return store.Consent{}, fmt.Errorf("sqlstore: get consent: %w", d.err)
	}
	return c, nil
}

func (s *Store) UpsertConsent(ctx context.Context, c store.Consent) error {
	_, err := s.exec(ctx, qUpsertConsent, c.CitizenID, c.ClientID, list(c.Scopes), ms(c.GrantedAt))
	return wrapWrite("upsert consent", err)
}

// ---- releases

var (
	qInsertRelease = insertSQL("releases", "citizen_id, client_id, claims, via, at")
	qListReleases  = "SELECT citizen_id, client_id, claims, via, at FROM releases WHERE citizen_id = ? ORDER BY at, seq"
)

func (s *Store) RecordRelease(ctx context.Context, r store.Release) error {
	_, err := s.exec(ctx, qInsertRelease, r.CitizenID, r.ClientID, list(r.Claims), r.Via, ms(r.At))
	return wrapWrite("record release", err)
}

// ListReleases returns the citizen's releases by time, then by the order recorded.
func (s *Store) ListReleases(ctx context.Context, citizenID string) ([]store.Release, error) {
	rows, err := s.query(ctx, qListReleases, citizenID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list releases: %w", err)
	}
	defer rows.Close()
	var out []store.Release
	for rows.Next() {
		var (
			r      store.Release
			claims string
			at     int64
			d      decoder
		)
		if err := rows.Scan(&r.CitizenID, &r.ClientID, &claims, &r.Via, &at); err != nil {
			return nil, fmt.Errorf("sqlstore: list releases: %w", err)
		}
		r.Claims, r.At = d.list(claims), fromMS(at)
		if d.err != nil {
			return nil, fmt.Errorf("sqlstore: list releases: %w", d.err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list releases: %w", err)
	}
	return out, nil
}

// ---- token keys

const tokenKeyCols = "id, alg, sealed, public_jwk, created_at, active_at, retire_at"

var (
	qInsertTokenKey = insertSQL("token_keys", tokenKeyCols)
	qListTokenKeys  = "SELECT " + tokenKeyCols + " FROM token_keys ORDER BY created_at, id"
)

func (s *Store) CreateTokenKey(ctx context.Context, k store.TokenKey) error {
	sealed := k.Sealed
	if sealed == nil {
		sealed = []byte{} // NOT NULL column
	}
	_, err := s.exec(ctx, qInsertTokenKey, k.ID, k.Alg, sealed, string(k.PublicJWK),
		ms(k.CreatedAt), ms(k.ActiveAt), ms(k.RetireAt))
	return wrapWrite("create token key", err)
}

func (s *Store) ListTokenKeys(ctx context.Context) ([]store.TokenKey, error) {
	rows, err := s.query(ctx, qListTokenKeys)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list token keys: %w", err)
	}
	defer rows.Close()
	var out []store.TokenKey
	for rows.Next() {
		var (
			k                        store.TokenKey
			jwk                      string
			created, active, retired int64
		)
		if err := rows.Scan(&k.ID, &k.Alg, &k.Sealed, &jwk, &created, &active, &retired); err != nil {
			return nil, fmt.Errorf("sqlstore: list token keys: %w", err)
		}
		k.PublicJWK = raw(jwk)
		k.CreatedAt, k.ActiveAt, k.RetireAt = fromMS(created), fromMS(active), fromMS(retired)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list token keys: %w", err)
	}
	return out, nil
}

// ---- client assertions

var (
	qDeleteExpiredAssertion = "DELETE FROM client_assertions WHERE client_id = ? AND jti = ? AND expires_at <= ?"
	qInsertAssertion        = insertSQL("client_assertions", "client_id, jti, expires_at")
	qUseOnce                = qInsertAssertion + " ON CONFLICT DO NOTHING"
)

// UseAssertion records a client assertion's jti; the primary key makes of concurrent
// users exactly one succeed. An expired record of the same jti is replaced.
func (s *Store) UseAssertion(ctx context.Context, clientID, jti string, expiresAt time.Time) error {
	if _, err := s.exec(ctx, qDeleteExpiredAssertion, clientID, jti, s.nowMS()); err != nil {
		return wrapWrite("use assertion", err)
	}
	_, err := s.exec(ctx, qInsertAssertion, clientID, jti, ms(expiresAt))
	if isUnique(err) {
		return fmt.Errorf("use assertion: %w", store.ErrAlreadyUsed)
	}
	return wrapWrite("use assertion", err)
}

// ---- pushed authorization requests

var (
	qInsertPushed  = insertSQL("pushed_requests", "id, client_id, request, expires_at")
	qConsumePushed = "DELETE FROM pushed_requests WHERE id = ? AND client_id = ? AND expires_at > ? RETURNING request"
	qPurgePushed   = "DELETE FROM pushed_requests WHERE expires_at <= ?"
)

// pushedRecord is how a pushed request is kept: the claims request as text, so its bytes
// come back exactly (json.RawMessage would be compacted and HTML-escaped).
type pushedRecord struct {
	store.AuthRequest
	RawClaims string `json:"raw_claims,omitempty"`
}

// CreatePushedRequest stores a validated request under id until expiresAt, and drops the
// expired ones so the table stays small.
func (s *Store) CreatePushedRequest(ctx context.Context, id string, r store.AuthRequest, expiresAt time.Time) error {
	rec := pushedRecord{AuthRequest: r, RawClaims: string(r.Claims)}
	rec.Claims = nil
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("sqlstore: create pushed request: %w", err)
	}
	if _, err := s.exec(ctx, qPurgePushed, s.nowMS()); err != nil {
		return wrapWrite("create pushed request", err)
	}
	_, err = s.exec(ctx, qInsertPushed, id, r.ClientID, string(b), ms(expiresAt))
	return wrapWrite("create pushed request", err)
}

// ConsumePushedRequest deletes and returns the request; the conditional DELETE is the
// claim, so of concurrent callers exactly one sees the row.
func (s *Store) ConsumePushedRequest(ctx context.Context, id, clientID string) (store.AuthRequest, error) {
	row, err := s.writeQueryRow(ctx, qConsumePushed, id, clientID, s.nowMS())
	if err != nil {
		return store.AuthRequest{}, wrapWrite("consume pushed request", err)
	}
	var text string
	if err := row.Scan(&text); err != nil {
		return store.AuthRequest{}, wrapRead("consume pushed request", err)
	}
	var rec pushedRecord
	if err := json.Unmarshal([]byte(text), &rec); err != nil {
		return store.AuthRequest{}, fmt.Errorf("sqlstore: consume pushed request: %w", err)
	}
	r := rec.AuthRequest
	r.Claims = raw(rec.RawClaims)
	r.CreatedAt, r.ExpiresAt = fromMS(ms(r.CreatedAt)), fromMS(ms(r.ExpiresAt))
	return r, nil
}

// ---- batched writes: one transaction instead of several on the login's hot path

// RecordLogin stores the citizen, the new session and the code (if any) in one
// transaction.
func (s *Store) RecordLogin(ctx context.Context, c store.Citizen, sess store.Session, code *store.AuthCode, once *store.Once) (store.Citizen, error) {
	var out store.Citizen
	now := s.nowMS()
	err := s.inTx(ctx, func(tx *txn) error {
		var err error
		if once != nil {
			// First, so a replay stores nothing; DO NOTHING keeps a PostgreSQL transaction
			// usable where a unique violation would abort it.
			if _, err := tx.exec(qDeleteExpiredAssertion, once.Namespace, once.Key, now); err != nil {
				return err
			}
			n, err := tx.exec(qUseOnce, once.Namespace, once.Key, ms(once.ExpiresAt))
			if err != nil {
				return err
			}
			if n == 0 {
				return store.ErrAlreadyUsed
			}
		}
		if out, err = s.upsertCitizenTx(tx, c); err != nil {
			return err
		}
		sess.CitizenID = out.ID
		if _, err := tx.exec(qInsertSession, sess.ID, sess.CitizenID, ms(sess.AuthTime), sess.ACR, list(sess.AMR),
			sess.UpstreamIDToken, ms(sess.CreatedAt), ms(sess.ExpiresAt)); err != nil {
			return err
		}
		if code == nil {
			return nil
		}
		c := *code
		c.CitizenID, c.SessionID = out.ID, sess.ID
		_, err = tx.exec(qInsertAuthCode, authCodeArgs(c)...)
		return err
	})
	if err != nil {
		return store.Citizen{}, wrapWrite("record login", err)
	}
	return out, nil
}

// RedeemAuthCode consumes the code and stores the refresh token next returns, in one
// transaction.
func (s *Store) RedeemAuthCode(ctx context.Context, id string, next func(store.AuthCode) (*store.RefreshToken, error)) (store.AuthCode, error) {
	var (
		c       store.AuthCode
		fnErr   error
		claimed bool
	)
	now := s.nowMS()
	err := s.inTx(ctx, func(tx *txn) error {
		row, err := tx.queryRow(qConsumeAuthCode, now, id, now)
		if err != nil {
			return err
		}
		c, err = scanAuthCode(row)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // not claimed: told apart below, after the transaction
		}
		if err != nil {
			return err
		}
		claimed = true
		t, err := next(c)
		if err != nil {
			fnErr = err // the code stays consumed: a failed redemption burns it
			return nil
		}
		if t != nil {
			_, err = tx.exec(qInsertRefresh, refreshArgs(*t)...)
		}
		return err
	})
	switch {
	case err != nil:
		return store.AuthCode{}, wrapWrite("redeem auth code", err)
	case claimed:
		return c, fnErr
	}
	var usedAt int64
	row, err := s.queryRow(ctx, qGetAuthCode, id, now)
	if err == nil {
		c, err = scanAuthCode(row, &usedAt)
	}
	if err != nil {
		return store.AuthCode{}, wrapRead("redeem auth code", err)
	}
	if usedAt == 0 {
		return store.AuthCode{}, fmt.Errorf("sqlstore: redeem auth code: %w", store.ErrConflict)
	}
	return c, fmt.Errorf("sqlstore: redeem auth code: %w", store.ErrAlreadyUsed)
}
