package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"maps"

	"github.com/motlan/motlan/idp/store"
)

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// ---- clients

const clientCols = "id, name, secret_hash, redirect_uris, post_logout_redirect_uris, allowed_scopes, " +
	"auth_method, jwks, jwks_uri, subject_type, id_token_alg, first_party, updated_at, require_par, " +
	"backchannel_logout_uri, backchannel_logout_session_required"

var (
	qUpsertClient = insertSQL("clients", clientCols) + " ON CONFLICT (id) DO UPDATE SET " + setExcluded(clientCols, "id") + ", disabled_at = 0"
	qGetClient    = "SELECT " + clientCols + " FROM clients WHERE id = ? AND disabled_at = 0"
	qListClients  = "SELECT " + clientCols + " FROM clients WHERE disabled_at = 0 ORDER BY id"
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
	var err error
	c.Attributes, err = decodeAttributes(attrs)
	return c, err
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
			old.Attributes, err = decodeAttributes(attrs)
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
		c.Attributes, err = decodeAttributes(attrs)
		out = c
		return err
	}()
	return out, err
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
