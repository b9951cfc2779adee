package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/motlan/motlan/idp/store"
)

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

func (s *Store) DeleteSession(ctx context.Context, id string, audit ...store.AuditRecord) error {
	if len(audit) == 0 {
		_, err := s.exec(ctx, qDeleteSession, id)
		return wrapWrite("delete session", err)
	}
	err := s.inTx(ctx, func(tx *txn) error {
		if _, err := tx.exec(qDeleteSession, id); err != nil {
			return err
		}
		return insertPendingAudit(tx, audit)
	})
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
