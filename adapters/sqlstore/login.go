package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/motlan/motlan/idp/store"
)

// ---- batched writes: one transaction instead of several on the login's hot path

// RecordLogin stores the citizen, the new session, the code (if any) and the login's
// audit records in one transaction. On PostgreSQL that is two round trips, shared with
// the other transactions of its group (group.go): BEGIN, the once mark and the citizen;
// then the rest with COMMIT, which waits for the flush only for the group's redemptions.
func (s *Store) RecordLogin(ctx context.Context, l store.Login) (store.Citizen, error) {
	var out store.Citizen
	now := s.nowMS()
	sess, code, once := l.Session, l.Code, l.Once
	// The commit need not wait for the WAL flush (see Logins.RecordLogin): the code's
	// redemption, which waits, flushes this transaction's records with its own, as the WAL
	// is flushed in order; a crash before it loses only a login no relying party redeemed.
	err := s.inGroupedTx(ctx, true, func(tx pipedTx) error {
		// ON CONFLICT keeps a PostgreSQL transaction usable where a unique violation would
		// abort it; a replay is rolled back below, so it stores nothing.
		var marked int64
		if once != nil {
			if err := tx.execLater(&marked, qUseOnce, once.Namespace, once.Key, ms(once.ExpiresAt), now); err != nil {
				return err
			}
		}
		var err error
		if out, err = s.upsertCitizenTx(tx, l.Citizen); err != nil {
			return err
		}
		if once != nil && marked == 0 {
			return store.ErrAlreadyUsed
		}
		sess.CitizenID = out.ID
		if err := tx.execLater(nil, qInsertSession, sess.ID, sess.CitizenID, ms(sess.AuthTime), sess.ACR, list(sess.AMR),
			sess.UpstreamIDToken, ms(sess.CreatedAt), ms(sess.ExpiresAt)); err != nil {
			return err
		}
		if code != nil {
			c := *code
			c.CitizenID, c.SessionID = out.ID, sess.ID
			if err := tx.execLater(nil, qInsertAuthCode, authCodeArgs(c)...); err != nil {
				return err
			}
		}
		if l.Audit == nil {
			return nil
		}
		rs, err := l.Audit(out)
		if err != nil {
			return err
		}
		return insertPendingAudit(tx, rs)
	})
	if err != nil {
		return store.Citizen{}, wrapWrite("record login", err)
	}
	return out, nil
}

// RedeemAuthCode consumes the code and stores what next returns (the refresh token, the
// client's subject, the claim release and its pending audit record) in one transaction.
func (s *Store) RedeemAuthCode(ctx context.Context, id string, next func(store.AuthCode, func() (store.Citizen, error)) (store.Redemption, error)) (store.AuthCode, error) {
	var (
		c       store.AuthCode
		fnErr   error
		claimed bool
	)
	now := s.nowMS()
	err := s.inGroupedTx(ctx, false, func(tx pipedTx) error {
		// The code's citizen is read with the code, in the same round trip on PostgreSQL.
		var (
			codeErr, citErr error
			cit             store.Citizen
		)
		err := tx.rowLater(func(r scanner) error { c, codeErr = scanAuthCode(r); return ignoreNoRows(codeErr) },
			qConsumeAuthCode, now, id, now)
		if err == nil {
			err = tx.row(func(r scanner) error { cit, citErr = scanCitizen(r, &s.attrs); return ignoreNoRows(citErr) }, qCodeCitizen, id)
		}
		if err != nil {
			return err
		}
		if codeErr != nil {
			return nil // not claimed: told apart below, after the transaction
		}
		claimed = true
		citizen := func() (store.Citizen, error) { return cit, notFound(citErr) }
		r, err := next(c, citizen)
		if err != nil {
			fnErr = err // the code stays consumed: a failed redemption burns it
			return nil
		}
		return storeRedemption(tx, r)
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

// storeRedemption writes what a code's redemption stores with it, in the caller's
// transaction.
func storeRedemption(tx pipedTx, r store.Redemption) error {
	if t := r.Refresh; t != nil {
		if err := tx.execLater(nil, qInsertRefresh, refreshArgs(*t)...); err != nil {
			return err
		}
	}
	return storeMinted(tx, []store.Minted{r.Minted})
}

// storeMinted writes what minting stores with a grant, in the caller's transaction.
func storeMinted(tx pipedTx, minted []store.Minted) error {
	for _, m := range minted {
		if cs := m.Subject; cs != nil {
			if err := tx.execLater(nil, qRecordSubject, cs.ClientID, cs.Subject, cs.CitizenID, ms(cs.At)); err != nil {
				return err
			}
		}
		if rel := m.Release; rel != nil {
			if err := tx.execLater(nil, qInsertRelease, rel.CitizenID, rel.ClientID, list(rel.Claims), rel.Via, ms(rel.At)); err != nil {
				return err
			}
		}
		if err := insertPendingAudit(tx, m.Audit); err != nil {
			return err
		}
	}
	return nil
}

// notFound is err, or ErrNotFound where it says there was no row: what a row read for a
// caller's callback tells it.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// ignoreNoRows is err unless it says there was no row: a row-reading step that records
// its outcome fails the transaction only with the errors that leave it unusable.
func ignoreNoRows(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	return err
}
