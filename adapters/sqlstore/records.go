package sqlstore

import (
	"context"
	"crypto/rand"
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
	// A stored citizen's row is returned (and locked on PostgreSQL) by the update of its
	// updated_at, the one column a login always writes.
	qUpsertCitizen = insertSQL("citizens", citizenCols) +
		" ON CONFLICT (issuer, subject) DO UPDATE SET updated_at = excluded.updated_at RETURNING " + citizenCols
	qGetCitizen    = "SELECT " + citizenCols + " FROM citizens WHERE id = ?"
	qCodeCitizen   = "SELECT " + citizenCols + " FROM citizens WHERE id = (SELECT citizen_id FROM auth_codes WHERE id = ?)"
	qUpdateCitizen = "UPDATE citizens SET cccd = ?, attributes = ?, updated_at = ? WHERE id = ?"
)

// scanCitizen reads a citizen row, decoding its attributes through memo.
func scanCitizen(sc scanner, memo *attrMemo) (store.Citizen, error) {
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
	c.Attributes, err = memo.decode(attrs)
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

// upsertCitizenTx is UpsertCitizen inside a transaction the caller holds. One statement
// inserts a new citizen, or finds (and locks) the one stored and returns its row; only
// when merging changes that row is it written again. A first-time login thus writes its
// citizen once, without a read before.
func (s *Store) upsertCitizenTx(tx pipedTx, c store.Citizen) (store.Citizen, error) {
	now := s.now().UTC()
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = now
	}
	if c.ID == "" {
		c.ID = rand.Text()
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	attrs, err := encodeAttributes(c.Attributes)
	if err != nil {
		return store.Citizen{}, err
	}
	var (
		old              store.Citizen
		oldAttrs         string
		created, updated int64
	)
	err = tx.row(func(r scanner) error {
		return r.Scan(&old.ID, &old.Issuer, &old.Subject, &old.CCCD, &oldAttrs, &created, &updated)
	}, qUpsertCitizen, c.ID, c.Issuer, c.Subject, c.CCCD, attrs, ms(c.CreatedAt), ms(c.UpdatedAt))
	if err != nil {
		return store.Citizen{}, err
	}
	// What the caller sees has the precision of a Get.
	old.CreatedAt, old.UpdatedAt = fromMS(created), fromMS(updated)
	if oldAttrs == attrs && (c.CCCD == "" || c.CCCD == old.CCCD) {
		// Inserted just now, or stored already with what the merge would write.
		old.Attributes, err = s.attrs.storedForm(attrs, c.Attributes)
		return old, err
	}
	if c.CCCD != "" {
		old.CCCD = c.CCCD
	}
	if old.Attributes, err = s.attrs.decode(oldAttrs); err != nil {
		return store.Citizen{}, err
	}
	if len(c.Attributes) > 0 {
		if old.Attributes == nil {
			old.Attributes = make(map[string]store.Attribute, len(c.Attributes))
		}
		maps.Copy(old.Attributes, c.Attributes)
	}
	if attrs, err = encodeAttributes(old.Attributes); err != nil {
		return store.Citizen{}, err
	}
	if err := tx.execLater(nil, qUpdateCitizen, old.CCCD, attrs, updated, old.ID); err != nil {
		return store.Citizen{}, err
	}
	old.Attributes, err = s.attrs.storedForm(attrs, old.Attributes)
	return old, err
}

func (s *Store) GetCitizen(ctx context.Context, id string) (store.Citizen, error) {
	row, err := s.queryRow(ctx, qGetCitizen, id)
	if err != nil {
		return store.Citizen{}, wrapRead("get citizen", err)
	}
	c, err := scanCitizen(row, &s.attrs)
	if err != nil {
		return store.Citizen{}, wrapRead("get citizen", err)
	}
	return c, nil
}
