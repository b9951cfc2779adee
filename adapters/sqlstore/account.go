package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/signing"
)

// ---- the citizen's own records (package account: the /me page)
//
// Every query here is keyed by the citizen, so a citizen's page can never read another
// citizen's rows whatever id a form carries.

var (
	qCitizenSessions = "SELECT " + sessionCols + " FROM sessions WHERE citizen_id = ? AND expires_at > ? ORDER BY created_at DESC, id"
	qCitizenConsents = "SELECT citizen_id, client_id, scopes, granted_at FROM consents WHERE citizen_id = ? ORDER BY client_id"
	qDeleteConsent   = "DELETE FROM consents WHERE citizen_id = ? AND client_id = ?"
	qClientGrants    = "SELECT id, session_id FROM auth_codes WHERE citizen_id = ? AND client_id = ? " +
		"UNION SELECT family_id, session_id FROM refresh_tokens WHERE citizen_id = ? AND client_id = ?"
	qRevokeCitizenClient = "UPDATE refresh_tokens SET revoked = 1 WHERE citizen_id = ? AND client_id = ? AND revoked = 0"
	qCitizenSigning      = "SELECT " + signingCols + " FROM signing_requests WHERE citizen_id = ? ORDER BY created_at DESC, id DESC LIMIT ?"
	qCitizenAudit        = "SELECT " + auditCols + " FROM audit_log WHERE actor = ? ORDER BY seq DESC LIMIT ?"
	qForgetCert          = "DELETE FROM citizen_certs WHERE citizen_id = ? AND serial = ?"
	qBumpKeyEpoch        = insertSQL("citizen_key_epochs", "citizen_id, epoch, updated_at") +
		" ON CONFLICT (citizen_id) DO UPDATE SET epoch = citizen_key_epochs.epoch + 1, updated_at = excluded.updated_at"
	qKeyEpoch = "SELECT epoch FROM citizen_key_epochs WHERE citizen_id = ?"
)

// ListCitizenSessions returns the citizen's live sessions, newest first.
func (s *Store) ListCitizenSessions(ctx context.Context, citizenID string) ([]store.Session, error) {
	out, err := listRows(ctx, s, func(rows *sql.Rows) (store.Session, error) {
		var (
			v                         store.Session
			amr                       string
			authTime, created, expiry int64
			d                         decoder
		)
		if err := rows.Scan(&v.ID, &v.CitizenID, &authTime, &v.ACR, &amr, &v.UpstreamIDToken, &created, &expiry); err != nil {
			return v, err
		}
		v.AMR = d.list(amr)
		v.AuthTime, v.CreatedAt, v.ExpiresAt = fromMS(authTime), fromMS(created), fromMS(expiry)
		return v, d.err
	}, qCitizenSessions, citizenID, s.nowMS())
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list citizen sessions: %w", err)
	}
	return out, nil
}

// ListConsents returns the citizen's consents, by client id.
func (s *Store) ListConsents(ctx context.Context, citizenID string) ([]store.Consent, error) {
	out, err := listRows(ctx, s, func(rows *sql.Rows) (store.Consent, error) {
		var (
			c       store.Consent
			scopes  string
			granted int64
			d       decoder
		)
		if err := rows.Scan(&c.CitizenID, &c.ClientID, &scopes, &granted); err != nil {
			return c, err
		}
		c.Scopes, c.GrantedAt = d.list(scopes), fromMS(granted)
		return c, d.err
	}, qCitizenConsents, citizenID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list consents: %w", err)
	}
	return out, nil
}

// DeleteConsent removes the citizen's consent for clientID and writes audit as pending
// audit records, in one transaction; store.ErrNotFound if there is none (so of concurrent
// withdrawals exactly one succeeds, and only it is recorded).
func (s *Store) DeleteConsent(ctx context.Context, citizenID, clientID string, audit ...store.AuditRecord) error {
	err := s.inTx(ctx, func(tx *txn) error {
		n, err := tx.exec(qDeleteConsent, citizenID, clientID)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		return insertPendingAudit(tx, audit)
	})
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("sqlstore: delete consent: %w", store.ErrNotFound)
	}
	return wrapWrite("delete consent", err)
}

// ClientGrants lists what clientID was given for the citizen, from the codes and refresh
// tokens still on record: the token families (a family is named after its code) and the
// sessions they were issued in, each sorted and without duplicates.
func (s *Store) ClientGrants(ctx context.Context, citizenID, clientID string) (families, sessions []string, err error) {
	type pair struct{ fam, sess string }
	rows, err := listRows(ctx, s, func(rows *sql.Rows) (pair, error) {
		var p pair
		return p, rows.Scan(&p.fam, &p.sess)
	}, qClientGrants, citizenID, clientID, citizenID, clientID)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlstore: client grants: %w", err)
	}
	fams, sess := map[string]bool{}, map[string]bool{}
	for _, p := range rows {
		fams[p.fam] = true
		if p.sess != "" {
			sess[p.sess] = true
		}
	}
	return sortedKeys(fams), sortedKeys(sess), nil
}

// RevokeClientRefreshTokens revokes every refresh token clientID holds for the citizen
// and returns how many were live.
func (s *Store) RevokeClientRefreshTokens(ctx context.Context, citizenID, clientID string) (int64, error) {
	n, err := s.exec(ctx, qRevokeCitizenClient, citizenID, clientID)
	if err != nil {
		return 0, wrapWrite("revoke client refresh tokens", err)
	}
	return n, nil
}

// ListCitizenSigningRequests returns up to limit of the citizen's signing requests, newest
// first, whichever client made them.
func (s *Store) ListCitizenSigningRequests(ctx context.Context, citizenID string, limit int) ([]signing.Request, error) {
	return s.listSigning(ctx, qCitizenSigning, citizenID, listLimit(limit))
}

// ListActorAudit returns up to limit sealed audit records whose actor is actor, newest
// first. Records still pending (not yet sealed into the chain) are not listed.
func (s *Store) ListActorAudit(ctx context.Context, actor string, limit int) ([]store.AuditRecord, error) {
	out, err := listRows(ctx, s, func(rows *sql.Rows) (store.AuditRecord, error) {
		var (
			r       store.AuditRecord
			at      int64
			details string
		)
		err := rows.Scan(&r.Seq, &at, &r.Kind, &r.Actor, &details, &r.PrevHash, &r.Hash)
		r.At, r.Details = fromMS(at), raw(details)
		return r, err
	}, qCitizenAudit, actor, int64(max(1, limit)))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list actor audit: %w", err)
	}
	return out, nil
}

// ForgetCitizenKey drops the citizen's certificate record (if it is still serial) and
// moves their key to the next epoch (signing.KeyEpochs), in one transaction, so that the
// next signing creates a new key and certificate. The old key stays sealed in the vault,
// unused: vault records are never deleted.
func (s *Store) ForgetCitizenKey(ctx context.Context, citizenID, serial string) error {
	err := s.inTx(ctx, func(tx *txn) error {
		if _, err := tx.exec(qForgetCert, citizenID, serial); err != nil {
			return err
		}
		_, err := tx.exec(qBumpKeyEpoch, citizenID, 1, s.nowMS())
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: forget citizen key: %w", err)
	}
	return nil
}

// CitizenKeyEpoch is how many times the citizen's key was replaced (0: never).
func (s *Store) CitizenKeyEpoch(ctx context.Context, citizenID string) (int, error) {
	row, err := s.queryRow(ctx, qKeyEpoch, citizenID)
	var n int64
	if err == nil {
		err = row.Scan(&n)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlstore: citizen key epoch: %w", unavailable(err))
	}
	return int(n), nil
}

// DeleteCitizen erases a citizen on their request, in one transaction: the record with
// its attributes, consents, releases, sessions, unused codes, the subjects clients knew
// them by, the certificate record; refresh tokens are revoked (kept for their family
// checks until purged). Audit records (pseudonymous ids) and signing requests stay: the
// law and the retention configuration decide how long. store.ErrNotFound for an unknown
// citizen.
func (s *Store) DeleteCitizen(ctx context.Context, citizenID string) error {
	err := s.inTx(ctx, func(tx *txn) error {
		n, err := tx.exec("DELETE FROM citizens WHERE id = ?", citizenID)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		for _, q := range []string{
			"DELETE FROM consents WHERE citizen_id = ?",
			"DELETE FROM releases WHERE citizen_id = ?",
			"DELETE FROM sessions WHERE citizen_id = ?",
			"DELETE FROM auth_codes WHERE citizen_id = ?",
			"DELETE FROM client_subjects WHERE citizen_id = ?",
			"DELETE FROM citizen_certs WHERE citizen_id = ?",
			"UPDATE refresh_tokens SET revoked = 1 WHERE citizen_id = ? AND revoked = 0",
		} {
			if _, err := tx.exec(q, citizenID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlstore: delete citizen: %w", err)
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

var _ signing.KeyEpochs = (*Store)(nil)
