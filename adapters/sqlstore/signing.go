package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/signing"
)

// ---- signing requests (signing.Store)

const signingCols = "id, client_id, subject, citizen_id, reason, location, level, status, documents, " +
	"callback_url, idempotency_key, fingerprint, approved_hashes, failure, worker, lease_until, attempts, " +
	"created_at, expires_at, updated_at, version, sign_time, authorized_digests, grant_sealed, grant_expires, blocked_until, return_url, cancel_reason"

// signingMutableCols are what UpdateSigningRequest writes; the rest is the identity.
const signingMutableCols = "citizen_id, reason, location, level, status, documents, callback_url, " +
	"approved_hashes, failure, worker, lease_until, attempts, expires_at, updated_at, version, " +
	"sign_time, authorized_digests, grant_sealed, grant_expires, blocked_until, cancel_reason"

var (
	qInsertSigning   = insertSQL("signing_requests", signingCols)
	qInsertSignDoc   = insertSQL("signing_documents", "request_id, idx, original")
	qGetSigning      = "SELECT " + signingCols + " FROM signing_requests WHERE id = ?"
	qSigningByKey    = "SELECT " + signingCols + " FROM signing_requests WHERE client_id = ? AND idempotency_key = ?"
	qUpdateSigning   = "UPDATE signing_requests SET " + setParams(signingMutableCols) + " WHERE id = ?"
	qListSigning     = "SELECT " + signingCols + " FROM signing_requests WHERE client_id = ? ORDER BY created_at DESC, id DESC LIMIT ?"
	qListSigningSub  = "SELECT " + signingCols + " FROM signing_requests WHERE client_id = ? AND subject = ? ORDER BY created_at DESC, id DESC LIMIT ?"
	qListSigningStat = "SELECT " + signingCols + " FROM signing_requests WHERE status = ? ORDER BY expires_at, id LIMIT ?"
	qOriginalPDF     = "SELECT original FROM signing_documents WHERE request_id = ? AND idx = ?"
	qSignedPDF       = "SELECT signed FROM signing_documents WHERE request_id = ? AND idx = ?"
	qPutSignedPDF    = "UPDATE signing_documents SET signed = ? WHERE request_id = ? AND idx = ? AND signed IS NULL"
	qSignDocExists   = "SELECT 1 FROM signing_documents WHERE request_id = ? AND idx = ?"
	// qRenewLease moves only the lease: no version bump, so a renewal wakes no long-poll.
	qRenewLease    = "UPDATE signing_requests SET lease_until = ? WHERE id = ? AND status = ? AND worker = ?"
	qExpireSigning = "UPDATE signing_requests SET status = ?, version = version + 1, updated_at = ? " +
		"WHERE status = ? AND expires_at <= ? RETURNING id"

	qGetCitizenCert    = "SELECT citizen_id, serial, cert, chain, not_after, created_at FROM citizen_certs WHERE citizen_id = ?"
	qInsertCitizenCert = insertSQL("citizen_certs", "citizen_id, serial, cert, chain, not_after, created_at, updated_at") +
		" ON CONFLICT (citizen_id) DO NOTHING"
	qReplaceCitizenCert = "UPDATE citizen_certs SET serial = ?, cert = ?, chain = ?, not_after = ?, created_at = ?, updated_at = ? " +
		"WHERE citizen_id = ? AND serial = ?"
)

// maxSigningList bounds a list whatever the caller asks.
const maxSigningList = 1000

func signingArgs(r signing.Request) ([]any, error) {
	docs, err := json.Marshal(utcDocuments(r.Documents))
	if err != nil {
		return nil, fmt.Errorf("encode documents: %w", err)
	}
	var key any // NULL when none, so the unique constraint skips it
	if r.IdempotencyKey != "" {
		key = r.IdempotencyKey
	}
	return []any{r.ID, r.ClientID, r.Subject, r.CitizenID, r.Reason, r.Location, string(r.Level), string(r.Status),
		string(docs), r.CallbackURL, key, r.Fingerprint, list(r.ApprovedHashes), r.Failure, r.Worker,
		ms(r.LeaseUntil), int64(r.Attempts), ms(r.CreatedAt), ms(r.ExpiresAt), ms(r.UpdatedAt), r.Version,
		ms(r.SignTime), list(r.AuthorizedDigests), r.Grant, ms(r.GrantExpires), ms(r.BlockedUntil), r.ReturnURL, r.CancelReason}, nil
}

func utcDocuments(in []signing.Document) []signing.Document {
	out := slices.Clone(in)
	for i := range out {
		out[i].SignedAt = fromMS(ms(out[i].SignedAt))
	}
	if out == nil {
		out = []signing.Document{}
	}
	return out
}

func scanSigning(sc scanner) (signing.Request, error) {
	var (
		r                                         signing.Request
		level, status, docs, approved, authorized string
		key                                       sql.NullString
		lease, attempts, created, exp, updtd      int64
		signTime, grantExp, blocked               int64
	)
	if err := sc.Scan(&r.ID, &r.ClientID, &r.Subject, &r.CitizenID, &r.Reason, &r.Location, &level, &status,
		&docs, &r.CallbackURL, &key, &r.Fingerprint, &approved, &r.Failure, &r.Worker, &lease, &attempts,
		&created, &exp, &updtd, &r.Version, &signTime, &authorized, &r.Grant, &grantExp, &blocked, &r.ReturnURL, &r.CancelReason); err != nil {
		return r, err
	}
	r.Level, r.Status, r.IdempotencyKey = signing.Level(level), signing.Status(status), key.String
	r.LeaseUntil, r.Attempts = fromMS(lease), int(attempts)
	r.CreatedAt, r.ExpiresAt, r.UpdatedAt = fromMS(created), fromMS(exp), fromMS(updtd)
	r.SignTime, r.GrantExpires = fromMS(signTime), fromMS(grantExp)
	if len(r.Grant) == 0 {
		r.Grant = nil
	}
	r.BlockedUntil = fromMS(blocked)
	var d decoder
	r.ApprovedHashes = d.list(approved)
	r.AuthorizedDigests = d.list(authorized)
	if err := json.Unmarshal([]byte(docs), &r.Documents); err != nil {
		return r, fmt.Errorf("decode documents: %w", err)
	}
	for i := range r.Documents {
		r.Documents[i].SignedAt = fromMS(ms(r.Documents[i].SignedAt))
	}
	return r, d.err
}

// cloneSigning copies r deeply enough that changes to the copy leave r as it was.
func cloneSigning(r signing.Request) signing.Request {
	r.ApprovedHashes = slices.Clone(r.ApprovedHashes)
	r.AuthorizedDigests, r.Grant = slices.Clone(r.AuthorizedDigests), slices.Clone(r.Grant)
	r.Documents = slices.Clone(r.Documents)
	for i, d := range r.Documents {
		if d.Placement != nil {
			p := *d.Placement
			r.Documents[i].Placement = &p
		}
	}
	return r
}

// normalize gives r the precision and zone a read returns.
func normalizeSigning(r signing.Request) signing.Request {
	r.Documents = utcDocuments(r.Documents)
	r.LeaseUntil, r.CreatedAt = fromMS(ms(r.LeaseUntil)), fromMS(ms(r.CreatedAt))
	r.ExpiresAt, r.UpdatedAt = fromMS(ms(r.ExpiresAt)), fromMS(ms(r.UpdatedAt))
	r.SignTime, r.GrantExpires = fromMS(ms(r.SignTime)), fromMS(ms(r.GrantExpires))
	r.BlockedUntil = fromMS(ms(r.BlockedUntil))
	if len(r.ApprovedHashes) == 0 {
		r.ApprovedHashes = nil
	}
	if len(r.AuthorizedDigests) == 0 {
		r.AuthorizedDigests = nil
	}
	if len(r.Grant) == 0 {
		r.Grant = nil
	}
	return r
}

// CreateSigningRequest stores r and its documents in one transaction. A reused
// idempotency key returns the stored request (with signing.ErrConflict when the
// fingerprint differs), also when the other create commits first while this one runs.
func (s *Store) CreateSigningRequest(ctx context.Context, r signing.Request, pdfs [][]byte) (signing.Request, error) {
	const op = "create signing request"
	if r.ID == "" || r.ClientID == "" {
		return signing.Request{}, fmt.Errorf("sqlstore: %s: empty id or client id", op)
	}
	if len(pdfs) != len(r.Documents) {
		return signing.Request{}, fmt.Errorf("sqlstore: %s: %d documents but %d PDFs", op, len(r.Documents), len(pdfs))
	}
	r.Version = 1
	r.UpdatedAt = s.now()
	r = normalizeSigning(r)
	args, err := signingArgs(r)
	if err != nil {
		return signing.Request{}, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	var existing *signing.Request
	err = s.inTx(ctx, func(tx *txn) error {
		if r.IdempotencyKey != "" {
			row, err := tx.queryRow(qSigningByKey+s.forUpdate(), r.ClientID, r.IdempotencyKey)
			if err != nil {
				return err
			}
			old, err := scanSigning(row)
			if err == nil {
				existing = &old
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		if _, err := tx.exec(qInsertSigning, args...); err != nil {
			return err
		}
		for i, pdf := range pdfs {
			if _, err := tx.exec(qInsertSignDoc, r.ID, int64(i), pdf); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && isUnique(err) && r.IdempotencyKey != "" {
		// Another create with the key committed between our read and insert.
		row, rerr := s.queryRow(ctx, qSigningByKey, r.ClientID, r.IdempotencyKey)
		if rerr == nil {
			old, serr := scanSigning(row)
			if serr == nil {
				existing, err = &old, nil
			}
		}
	}
	if err != nil {
		return signing.Request{}, signingWrite(op, err)
	}
	if existing != nil {
		if existing.Fingerprint != r.Fingerprint {
			return *existing, fmt.Errorf("sqlstore: %s: idempotency key reused with other content: %w", op, signing.ErrConflict)
		}
		return *existing, nil
	}
	return r, nil
}

func (s *Store) GetSigningRequest(ctx context.Context, id string) (signing.Request, error) {
	row, err := s.queryRow(ctx, qGetSigning, id)
	if err != nil {
		return signing.Request{}, signingRead("get signing request", err)
	}
	r, err := scanSigning(row)
	if err != nil {
		return signing.Request{}, signingRead("get signing request", err)
	}
	return r, nil
}

// UpdateSigningRequest reads, applies fn and writes back in one transaction holding the
// row (PostgreSQL) or the write lock (SQLite) from the read on.
func (s *Store) UpdateSigningRequest(ctx context.Context, id string, fn func(signing.Request) (signing.Request, error)) (signing.Request, error) {
	return s.UpdateSigningRequestAudited(ctx, id, fn, nil)
}

// UpdateSigningRequestAudited is UpdateSigningRequest that also writes the audit records
// records returns for the updated request as pending records in the same transaction
// (sealed later, see SealPendingAudit): the act and its record are stored together or
// not at all. records nil, or returning none, writes none.
func (s *Store) UpdateSigningRequestAudited(ctx context.Context, id string, fn func(signing.Request) (signing.Request, error),
	records func(signing.Request) ([]store.AuditRecord, error)) (signing.Request, error) {
	const op = "update signing request"
	var out signing.Request
	var fnErr error
	err := s.inTx(ctx, func(tx *txn) error {
		row, err := tx.queryRow(qGetSigning+s.forUpdate(), id)
		if err != nil {
			return err
		}
		old, err := scanSigning(row)
		if err != nil {
			return err
		}
		if old.Status.Final() {
			fnErr = fmt.Errorf("sqlstore: %s: %w", op, signing.ErrFinal)
			return fnErr
		}
		next, err := fn(cloneSigning(old)) // fn may write through the slices it gets
		if err != nil {
			fnErr = err
			return err
		}
		if len(next.Documents) != len(old.Documents) {
			fnErr = fmt.Errorf("sqlstore: %s: the documents cannot be added or removed", op)
			return fnErr
		}
		// Only a document's signature fields (and what its B-LT/B-LTA evidence lacks) may change.
		docs := slices.Clone(old.Documents)
		for i := range docs {
			docs[i].SignedAt, docs[i].SignedSHA = next.Documents[i].SignedAt, next.Documents[i].SignedSHA
			docs[i].EvidenceGaps = next.Documents[i].EvidenceGaps
		}
		next.Documents = docs
		next.ID, next.ClientID, next.Subject = old.ID, old.ClientID, old.Subject
		next.IdempotencyKey, next.Fingerprint, next.CreatedAt = old.IdempotencyKey, old.Fingerprint, old.CreatedAt
		next.ReturnURL = old.ReturnURL
		next.Version = old.Version + 1
		next.UpdatedAt = s.now()
		next = normalizeSigning(next)
		args, err := signingArgs(next)
		if err != nil {
			return err
		}
		// args follow signingCols; pick the mutable ones in signingMutableCols order.
		upd := []any{args[3], args[4], args[5], args[6], args[7], args[8], args[9], args[12], args[13],
			args[14], args[15], args[16], args[18], args[19], args[20], args[21], args[22], args[23], args[24], args[25], args[27], id}
		if _, err := tx.exec(qUpdateSigning, upd...); err != nil {
			return err
		}
		if records != nil {
			rs, err := records(next)
			if err != nil {
				fnErr = fmt.Errorf("sqlstore: %s: audit records: %w", op, err)
				return fnErr
			}
			if err := insertPendingAudit(tx, rs); err != nil {
				return err
			}
		}
		out = next
		return nil
	})
	switch {
	case fnErr != nil:
		return signing.Request{}, fnErr
	case errors.Is(err, sql.ErrNoRows):
		return signing.Request{}, signingRead(op, err)
	case err != nil:
		return signing.Request{}, signingWrite(op, err)
	}
	return out, nil
}

func (s *Store) ListSigningRequests(ctx context.Context, clientID, subject string, limit int) ([]signing.Request, error) {
	n := listLimit(limit)
	if subject == "" {
		return s.listSigning(ctx, qListSigning, clientID, n)
	}
	return s.listSigning(ctx, qListSigningSub, clientID, subject, n)
}

func (s *Store) ListSigningRequestsByStatus(ctx context.Context, status signing.Status, limit int) ([]signing.Request, error) {
	return s.listSigning(ctx, qListSigningStat, string(status), listLimit(limit))
}

func listLimit(n int) int64 {
	if n <= 0 || n > maxSigningList {
		return maxSigningList
	}
	return int64(n)
}

func (s *Store) listSigning(ctx context.Context, q string, args ...any) ([]signing.Request, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list signing requests: %w", err)
	}
	defer rows.Close()
	var out []signing.Request
	for rows.Next() {
		r, err := scanSigning(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list signing requests: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list signing requests: %w", err)
	}
	return out, nil
}

func (s *Store) OriginalPDF(ctx context.Context, id string, index int) ([]byte, error) {
	row, err := s.queryRow(ctx, qOriginalPDF, id, int64(index))
	var b []byte
	if err == nil {
		err = row.Scan(&b)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, s.missingDocument(ctx, "original pdf", id)
	}
	if err != nil {
		return nil, signingRead("original pdf", err)
	}
	return b, nil
}

func (s *Store) SignedPDF(ctx context.Context, id string, index int) ([]byte, error) {
	row, err := s.queryRow(ctx, qSignedPDF, id, int64(index))
	var b []byte
	if err == nil {
		err = row.Scan(&b)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, s.missingDocument(ctx, "signed pdf", id)
	}
	if err == nil && b == nil {
		err = sql.ErrNoRows // the document exists but is not signed yet
	}
	if err != nil {
		return nil, signingRead("signed pdf", err)
	}
	return b, nil
}

// PutSignedPDF stores the signed bytes once: the conditional UPDATE lets exactly one of
// racing writers through.
func (s *Store) PutSignedPDF(ctx context.Context, id string, index int, pdf []byte) error {
	const op = "put signed pdf"
	if len(pdf) == 0 {
		return fmt.Errorf("sqlstore: %s: empty document", op)
	}
	n, err := s.exec(ctx, qPutSignedPDF, pdf, id, int64(index))
	if err != nil {
		return signingWrite(op, err)
	}
	if n == 1 {
		return nil
	}
	row, err := s.queryRow(ctx, qSignDocExists, id, int64(index))
	var one int
	if err == nil {
		err = row.Scan(&one)
	}
	if err != nil {
		return signingRead(op, err)
	}
	return fmt.Errorf("sqlstore: %s: already signed: %w", op, signing.ErrConflict)
}

// RenewSigningLease moves the lease of a request worker holds (status signing) to until,
// without a new version; signing.ErrConflict when worker no longer holds it.
func (s *Store) RenewSigningLease(ctx context.Context, id, worker string, until time.Time) error {
	const op = "renew signing lease"
	n, err := s.exec(ctx, qRenewLease, ms(until), id, string(signing.StatusSigning), worker)
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if n != 1 {
		return fmt.Errorf("sqlstore: %s: not held by this run: %w", op, signing.ErrConflict)
	}
	return nil
}

func (s *Store) ExpireSigningRequests(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := func() (*sql.Rows, error) {
		ctx, err := s.stmtCtx(ctx)
		if err != nil {
			return nil, err
		}
		st, err := s.w.stmt(ctx, qExpireSigning)
		if err != nil {
			return nil, err
		}
		return st.QueryContext(ctx, string(signing.StatusExpired), s.nowMS(), string(signing.StatusPending), ms(now))
	}()
	if err != nil {
		return nil, fmt.Errorf("sqlstore: expire signing requests: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("sqlstore: expire signing requests: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: expire signing requests: %w", err)
	}
	slices.Sort(ids)
	return ids, nil
}

// ---- citizen certificates (signing.CertStore)

func (s *Store) CitizenCert(ctx context.Context, citizenID string) (signing.CitizenCert, error) {
	const op = "get citizen cert"
	row, err := s.queryRow(ctx, qGetCitizenCert, citizenID)
	var (
		c              signing.CitizenCert
		chain          string
		notAfter, crtd int64
	)
	if err == nil {
		err = row.Scan(&c.CitizenID, &c.Serial, &c.Certificate, &chain, &notAfter, &crtd)
	}
	if err != nil {
		return signing.CitizenCert{}, signingRead(op, err)
	}
	if chain != "" {
		if err := json.Unmarshal([]byte(chain), &c.Chain); err != nil {
			return signing.CitizenCert{}, fmt.Errorf("sqlstore: %s: decode chain: %w", op, err)
		}
	}
	c.NotAfter, c.CreatedAt = fromMS(notAfter), fromMS(crtd)
	return c, nil
}

func (s *Store) PutCitizenCert(ctx context.Context, c signing.CitizenCert, replaces string) error {
	const op = "put citizen cert"
	if c.CitizenID == "" || c.Serial == "" || len(c.Certificate) == 0 {
		return fmt.Errorf("sqlstore: %s: empty citizen id, serial or certificate", op)
	}
	chain := ""
	if len(c.Chain) > 0 {
		b, err := json.Marshal(c.Chain)
		if err != nil {
			return fmt.Errorf("sqlstore: %s: %w", op, err)
		}
		chain = string(b)
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = s.now()
	}
	var n int64
	var err error
	if replaces == "" {
		n, err = s.exec(ctx, qInsertCitizenCert, c.CitizenID, c.Serial, c.Certificate, chain, ms(c.NotAfter), ms(c.CreatedAt), s.nowMS())
	} else {
		n, err = s.exec(ctx, qReplaceCitizenCert, c.Serial, c.Certificate, chain, ms(c.NotAfter), ms(c.CreatedAt), s.nowMS(), c.CitizenID, replaces)
	}
	if err != nil {
		return signingWrite(op, err)
	}
	if n != 1 {
		return fmt.Errorf("sqlstore: %s: the stored certificate changed: %w", op, signing.ErrConflict)
	}
	return nil
}

// signingWrite turns a unique violation into signing.ErrConflict.
func signingWrite(op string, err error) error {
	if isUnique(err) {
		return fmt.Errorf("sqlstore: %s: %w: %w", op, signing.ErrConflict, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// signingRead turns sql.ErrNoRows into signing.ErrNotFound.
func signingRead(op string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlstore: %s: %w", op, signing.ErrNotFound)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

var (
	_ signing.Store         = (*Store)(nil)
	_ signing.AuditingStore = (*Store)(nil)
)
