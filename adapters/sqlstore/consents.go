package sqlstore

import (
	"context"
	"fmt"

	"github.com/motlan/motlan/idp/store"
)

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

func (s *Store) UpsertConsent(ctx context.Context, c store.Consent, audit ...store.AuditRecord) error {
	if len(audit) == 0 {
		_, err := s.exec(ctx, qUpsertConsent, c.CitizenID, c.ClientID, list(c.Scopes), ms(c.GrantedAt))
		return wrapWrite("upsert consent", err)
	}
	err := s.inTx(ctx, func(tx *txn) error {
		if _, err := tx.exec(qUpsertConsent, c.CitizenID, c.ClientID, list(c.Scopes), ms(c.GrantedAt)); err != nil {
			return err
		}
		return insertPendingAudit(tx, audit)
	})
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
