package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/motlan/motlan/idp/store"
)

// ---- refresh tokens

const refreshCols = "id, family_id, client_id, citizen_id, session_id, scopes, claims, auth_time, acr, amr, " +
	"created_at, expires_at, used_at, revoked, successor_id"

var (
	qInsertRefresh = insertSQL("refresh_tokens", refreshCols)
	qGetRefresh    = "SELECT " + refreshCols + " FROM refresh_tokens WHERE id = ? AND expires_at > ?"
	// The token with whether its session is live, as GetSession would find it.
	qGetRefreshLive = "SELECT " + refreshCols + ", CASE WHEN EXISTS (SELECT 1 FROM sessions s WHERE s.id = rt.session_id AND s.expires_at > ?) THEN 1 ELSE 0 END " +
		"FROM refresh_tokens rt WHERE id = ? AND expires_at > ?"
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
	row, err := s.queryRow(ctx, qGetRefresh, id, s.nowMS())
	var t store.RefreshToken
	if err == nil {
		t, err = scanRefresh(row)
	}
	if err != nil {
		return store.RefreshToken{}, wrapRead("get refresh token", err)
	}
	return t, nil
}

// scanRefresh reads a row of refreshCols, then extra.
func scanRefresh(sc scanner, extra ...any) (store.RefreshToken, error) {
	var (
		t                                         store.RefreshToken
		scopes, claims, amr                       string
		authTime, created, expires, used, revoked int64
	)
	dest := append([]any{&t.ID, &t.FamilyID, &t.ClientID, &t.CitizenID, &t.SessionID, &scopes, &claims,
		&authTime, &t.ACR, &amr, &created, &expires, &used, &revoked, &t.SuccessorID}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return store.RefreshToken{}, err
	}
	var d decoder
	t.Scopes, t.Claims, t.AMR = d.list(scopes), raw(claims), d.list(amr)
	t.AuthTime, t.CreatedAt, t.ExpiresAt, t.UsedAt = fromMS(authTime), fromMS(created), fromMS(expires), fromMS(used)
	t.Revoked = revoked != 0
	if d.err != nil {
		return store.RefreshToken{}, fmt.Errorf("decode refresh token: %w", d.err)
	}
	return t, nil
}

// RotateRefreshTokenWith reads oldID, with whether its session is live, and rotates it to
// what decide returns, in one transaction: a refresh's only one. On PostgreSQL three round
// trips, shared with the other transactions of its group (group.go): BEGIN and the read,
// the claim, the rest with COMMIT (one more if decide reads the citizen). decide's error
// stores nothing and is returned as is.
func (s *Store) RotateRefreshTokenWith(ctx context.Context, oldID string, decide store.RotateDecision) error {
	now := s.nowMS()
	var decided error
	err := s.inGroupedTx(ctx, false, func(tx pipedTx) error {
		decided = nil // a group's failure runs this again, alone
		var (
			old     store.RefreshToken
			live    int64
			readErr error
		)
		err := tx.row(func(r scanner) error { old, readErr = scanRefresh(r, &live); return ignoreNoRows(readErr) },
			qGetRefreshLive, now, oldID, now)
		switch {
		case err != nil:
			return err
		case readErr != nil:
			decided = fmt.Errorf("sqlstore: rotate refresh token: %w", store.ErrNotFound)
			return nil
		}
		// The citizen is read in this transaction, as RedeemAuthCode does: the pool may
		// have no other connection to give while this one is held.
		var citErr error
		citizen := func() (store.Citizen, error) {
			var (
				c       store.Citizen
				scanErr error
			)
			if citErr = tx.row(func(r scanner) error { c, scanErr = scanCitizen(r, &s.attrs); return ignoreNoRows(scanErr) },
				qGetCitizen, old.CitizenID); citErr != nil {
				return store.Citizen{}, citErr
			}
			return c, notFound(scanErr)
		}
		next, m, err := decide(old, live != 0, citizen)
		switch {
		case citErr != nil:
			return citErr // the transaction failed, whatever decide made of it
		case err != nil:
			decided = err // the read alone commits: nothing is written
			return nil
		}
		return rotateTx(tx, oldID, next, now, []store.Minted{m})
	})
	if err == nil && decided != nil {
		return decided
	}
	return rotateErr("rotate refresh token", err)
}

// rotateTx claims oldID for next with a conditional UPDATE and stores next and what with
// holds, in the caller's transaction. A token that is unknown, expired or revoked is
// ErrNotFound even if it was also used; a live, used one is ErrAlreadyUsed (a round trip
// more reads which).
func rotateTx(tx pipedTx, oldID string, next store.RefreshToken, now int64, with []store.Minted) error {
	if next.CreatedAt.IsZero() {
		next.CreatedAt = fromMS(now)
	}
	var n int64
	err := tx.execLater(&n, qClaimRefresh, ms(next.CreatedAt), next.ID, oldID, now)
	if err == nil {
		err = tx.send()
	}
	if err != nil {
		return err
	}
	if n == 1 {
		if err := tx.execLater(nil, qInsertRefresh, refreshArgs(next)...); err != nil {
			return err
		}
		return storeMinted(tx, with)
	}
	var used, revoked, expires int64
	err = tx.row(func(r scanner) error { return r.Scan(&used, &revoked, &expires) }, qRefreshState, oldID)
	switch {
	case errors.Is(err, sql.ErrNoRows) || (err == nil && (revoked != 0 || expires <= now)):
		return store.ErrNotFound
	case err != nil:
		return err
	default:
		return store.ErrAlreadyUsed
	}
}

// rotateErr wraps a rotation's error, keeping the outcomes callers branch on.
func rotateErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrAlreadyUsed), errors.Is(err, store.ErrConflict):
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	default:
		return wrapWrite(op, err)
	}
}

// RotateRefreshTokenAgain locks oldID's row, revokes its successor only while that is
// unused (the same conditional UPDATE a rotation of the successor races with, so exactly
// one of them wins), then repoints oldID and inserts next, in one transaction. The lock
// order (old row, then its successor) is the family's insertion order, the order a family
// revocation takes too.
func (s *Store) RotateRefreshTokenAgain(ctx context.Context, oldID string, next store.RefreshToken, with ...store.Minted) error {
	now := s.nowMS()
	if next.CreatedAt.IsZero() {
		next.CreatedAt = fromMS(now)
	}
	err := s.inPipedTx(ctx, false, func(tx pipedTx) error {
		var used, revoked, expires int64
		var successor string
		err := tx.row(func(r scanner) error { return r.Scan(&used, &revoked, &expires, &successor) },
			qRefreshSuccessor+s.forUpdate(), oldID)
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
		var n int64
		if err := tx.execLater(&n, qRevokeUnused, successor, now); err != nil {
			return err
		}
		if err := tx.send(); err != nil {
			return err
		}
		if n == 0 {
			return store.ErrAlreadyUsed
		}
		if err := tx.execLater(nil, qSetSuccessor, next.ID, oldID); err != nil {
			return err
		}
		if err := tx.execLater(nil, qInsertRefresh, refreshArgs(next)...); err != nil {
			return err
		}
		return storeMinted(tx, with)
	})
	return rotateErr("rotate refresh token again", err)
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

// RevokeFamily revokes the family, denylists its access tokens and writes the audit
// records in one transaction; the UPDATE's row count tells whether anything was live.
func (s *Store) RevokeFamily(ctx context.Context, familyID string, deny store.Deny, audit ...store.AuditRecord) (bool, error) {
	var revoked bool
	err := s.inTx(ctx, func(tx *txn) error {
		n, err := tx.exec(qRevokeFamily, familyID)
		if err != nil || n == 0 {
			return err
		}
		if _, err := tx.exec(qRevokeToken, deny.Key, ms(deny.Until)); err != nil {
			return err
		}
		revoked = true
		return insertPendingAudit(tx, audit)
	})
	if err != nil {
		return false, wrapWrite("revoke family", err)
	}
	return revoked, nil
}

// ---- revoked access tokens

var (
	qRevokeToken  = insertSQL("revoked_tokens", "jti, expires_at") + " ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at"
	qTokenRevoked = "SELECT 1 FROM revoked_tokens WHERE jti = ? AND expires_at > ?"
)

// RevokeToken denylists jti; a second revocation (or one of an expired entry not yet
// collected) sets the entry's expiry to expiresAt.
func (s *Store) RevokeToken(ctx context.Context, jti string, expiresAt time.Time, audit ...store.AuditRecord) error {
	if len(audit) == 0 {
		_, err := s.exec(ctx, qRevokeToken, jti, ms(expiresAt))
		return wrapWrite("revoke token", err)
	}
	err := s.inTx(ctx, func(tx *txn) error {
		if _, err := tx.exec(qRevokeToken, jti, ms(expiresAt)); err != nil {
			return err
		}
		return insertPendingAudit(tx, audit)
	})
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
	out, err := listRows(ctx, s, func(rows *sql.Rows) (store.TokenKey, error) {
		var (
			k                        store.TokenKey
			jwk                      string
			created, active, retired int64
		)
		err := rows.Scan(&k.ID, &k.Alg, &k.Sealed, &jwk, &created, &active, &retired)
		k.PublicJWK = raw(jwk)
		k.CreatedAt, k.ActiveAt, k.RetireAt = fromMS(created), fromMS(active), fromMS(retired)
		return k, err
	}, qListTokenKeys)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list token keys: %w", err)
	}
	return out, nil
}

// ---- client assertions

var (
	qDeleteExpiredAssertion = "DELETE FROM client_assertions WHERE client_id = ? AND jti = ? AND expires_at <= ?"
	qInsertAssertion        = insertSQL("client_assertions", "client_id, jti, expires_at")
	// qUseOnce records a mark, replacing an expired one of the same key: one row affected,
	// or none while a live one exists. One statement where a delete and an insert were.
	qUseOnce = qInsertAssertion + " ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at" +
		" WHERE client_assertions.expires_at <= ?"
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
