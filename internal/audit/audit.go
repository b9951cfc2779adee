// Package audit keeps the append-only audit log of sensitive acts: logins, claim
// releases, consents, signing requests, approvals, signatures, revocations and admin acts.
// Each record is chained to the one before by SHA-256, so Verify proves the log unbroken
// or names the first bad record.
//
// Records name their actor pseudonymously (Motlan's own citizen id, a client id, an
// operator) and carry in Details only what the act needs: claim names, never claim values.
//
// An act that must never happen without its record (a login) writes the record in its
// own transaction, as a pending record from Records, and Run seals pending records into the
// chain. Other acts use Log, which appends after the act has happened: a failed append is
// logged at error level and does not undo the act or fail the request, whose effect is
// already committed. Append returns the error for callers that must know.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"iter"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/motlan/motlan/idp/store"
)

// Kinds of records.
const (
	KindLogin          = "login"           // a citizen logged in at the eID (actor: citizen)
	KindRelease        = "release"         // claims released to a client (actor: citizen)
	KindConsent        = "consent"         // a citizen allowed a client scopes (actor: citizen)
	KindSigningCreate  = "signing.create"  // a client asked for signatures (actor: client)
	KindSigningApprove = "signing.approve" // a citizen approved exact documents (actor: citizen)
	KindSigningReject  = "signing.reject"  // a citizen refused (actor: citizen)
	KindSigningSigned  = "signing.signed"  // documents were signed (actor: citizen)
	KindRevoke         = "certificate.revoke"
	KindTokenRevoke    = "token.revoke" // a client revoked a token (RFC 7009) (actor: client)
	KindLogout         = "logout"       // a citizen's session ended (actor: citizen)
	KindAdmin          = "admin"        // an operator command (actor: admin)
)

// Citizen, Client and Admin build actor names.
func Citizen(id string) string { return "citizen:" + id }
func Client(id string) string  { return "client:" + id }
func Admin(name string) string { return "admin:" + name }

// Event is what a hook records; Details is marshalled to JSON (nil: {}).
type Event struct {
	Kind    string
	Actor   string
	Details any
}

// Config configures a Logger.
type Config struct {
	Store  store.Audit
	Now    func() time.Time
	Logger *slog.Logger
}

// Logger appends events to the audit log. A nil *Logger records nothing, so components
// built without one (unit tests) need no stub.
//
// Appends are serialized by the store's lock on the log's head, whose hold includes the
// commit; concurrent appends in one process are therefore committed together (group
// commit): the first caller appends everything queued meanwhile in one transaction, and
// hands over to the next waiter if more arrived. Each caller still returns only once its
// record is committed.
type Logger struct {
	st  store.Audit
	now func() time.Time
	log *slog.Logger

	mu    sync.Mutex
	queue []*pending
	busy  bool // a caller is committing a batch

	kick chan struct{} // see Kick and Run
}

// maxBatch bounds one transaction's records.
const maxBatch = 256

type pending struct {
	r    store.AuditRecord
	done chan outcome // buffered: one outcome, or a hand-over then one outcome
}

type outcome struct {
	rec  store.AuditRecord
	err  error
	lead bool // commit the next batch (the record is still queued)
}

// New returns a Logger.
func New(cfg Config) (*Logger, error) {
	if cfg.Store == nil {
		return nil, errors.New("audit: Store is required")
	}
	l := &Logger{st: cfg.Store, now: cfg.Now, log: cfg.Logger, kick: make(chan struct{}, 1)}
	if l.now == nil {
		l.now = time.Now
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	return l, nil
}

// Log appends e; a failure is logged, not returned (see the package comment).
func (l *Logger) Log(ctx context.Context, e Event) {
	if l == nil {
		return
	}
	if _, err := l.Append(ctx, e); err != nil {
		l.log.ErrorContext(ctx, "audit append failed", "kind", e.Kind, "err", err)
	}
}

// record turns e into an unsealed record stamped now.
func (l *Logger) record(e Event) (store.AuditRecord, error) {
	if e.Kind == "" || e.Actor == "" {
		return store.AuditRecord{}, errors.New("audit: an event needs a kind and an actor")
	}
	details := []byte("{}")
	if e.Details != nil {
		var err error
		if details, err = json.Marshal(e.Details); err != nil {
			return store.AuditRecord{}, fmt.Errorf("audit: details of %s: %w", e.Kind, err)
		}
	}
	return store.AuditRecord{
		At: l.now().UTC().Truncate(time.Millisecond), Kind: e.Kind, Actor: e.Actor, Details: details,
	}, nil
}

// Records returns es as records for a store to write in the transaction of the act they
// record, as pending records that Run seals into the chain; nil on a nil *Logger.
func (l *Logger) Records(es ...Event) ([]store.AuditRecord, error) {
	if l == nil {
		return nil, nil
	}
	out := make([]store.AuditRecord, len(es))
	for i, e := range es {
		var err error
		if out[i], err = l.record(e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Append appends e and returns the stored record.
func (l *Logger) Append(ctx context.Context, e Event) (store.AuditRecord, error) {
	if l == nil {
		return store.AuditRecord{}, errors.New("audit: no log configured")
	}
	r, err := l.record(e)
	if err != nil {
		return store.AuditRecord{}, err
	}
	p := &pending{r: r, done: make(chan outcome, 1)}
	l.mu.Lock()
	l.queue = append(l.queue, p)
	lead := !l.busy
	l.busy = true
	l.mu.Unlock()
	for {
		if lead {
			l.commitBatch(context.WithoutCancel(ctx))
		}
		o := <-p.done
		if !o.lead {
			if o.err != nil {
				return store.AuditRecord{}, fmt.Errorf("audit: append %s: %w", e.Kind, o.err)
			}
			return o.rec, nil
		}
		lead = true
	}
}

// commitBatch appends the queued records in one call, tells each caller its outcome, and
// hands the next batch to the first caller still waiting, if any.
func (l *Logger) commitBatch(ctx context.Context) {
	l.mu.Lock()
	n := min(len(l.queue), maxBatch)
	batch := append([]*pending(nil), l.queue[:n]...)
	l.queue = append(l.queue[:0:0], l.queue[n:]...)
	l.mu.Unlock()
	rs := make([]store.AuditRecord, len(batch))
	for i, p := range batch {
		rs[i] = p.r
	}
	out, err := l.st.AppendAudit(ctx, rs, Seal)
	if err == nil && len(out) != len(rs) {
		err = fmt.Errorf("store appended %d of %d records", len(out), len(rs))
	}
	for i, p := range batch {
		if err != nil {
			p.done <- outcome{err: err}
		} else {
			p.done <- outcome{rec: out[i]}
		}
	}
	l.mu.Lock()
	if len(l.queue) == 0 {
		l.busy = false
	} else {
		l.queue[0].done <- outcome{lead: true}
	}
	l.mu.Unlock()
}

// Seal returns a record's hash: SHA-256, in hex, over a canonical encoding of (seq, at,
// kind, actor, details, prev): a version tag, then each field as an 8-byte big-endian
// length and its bytes; seq and at (Unix milliseconds) in decimal, details as stored.
// Lengths make the encoding unambiguous whatever bytes the fields hold.
func Seal(r store.AuditRecord) (string, error) {
	h := sha256.New()
	field(h, "motlan-audit-v1")
	field(h, strconv.FormatInt(r.Seq, 10))
	field(h, strconv.FormatInt(r.At.UnixMilli(), 10))
	field(h, r.Kind)
	field(h, r.Actor)
	field(h, string(r.Details))
	field(h, r.PrevHash)
	return hex.EncodeToString(h.Sum(nil)), nil
}

func field(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

// Records iterates over the whole log in seq order, a page at a time.
func Records(ctx context.Context, st store.Audit) iter.Seq2[store.AuditRecord, error] {
	return func(yield func(store.AuditRecord, error) bool) {
		after := int64(0)
		for {
			page, err := st.ListAudit(ctx, after, 500)
			if err != nil {
				yield(store.AuditRecord{}, err)
				return
			}
			for _, r := range page {
				if !yield(r, nil) {
					return
				}
			}
			if len(page) < 500 {
				return
			}
			after = page[len(page)-1].Seq
		}
	}
}

// Why a record is bad.
const (
	ReasonHashMismatch = "hash mismatch" // its content does not hash to its stored hash
	ReasonPrevMismatch = "prev mismatch" // its prev hash is not the previous record's hash
	ReasonGap          = "gap"           // its seq does not follow the previous one
	ReasonHead         = "head mismatch" // the log ends before, or elsewhere than, its head
)

// BadRecord is Verify's finding: the first record that breaks the chain.
type BadRecord struct {
	Seq    int64
	Reason string
	Detail string
}

func (b *BadRecord) Error() string {
	return fmt.Sprintf("audit record %d: %s: %s", b.Seq, b.Reason, b.Detail)
}

// Verify walks the log up to the head the store remembers, read first, and checks every
// record's seq, link and hash, and that the last one is that head. Records a live
// system appends meanwhile are left to the next run, once the head, read again, covers
// them: a record past a head that does not move is reported. It returns how many records
// it checked, and a *BadRecord for the first one that fails (or another error if the log
// cannot be read).
func Verify(ctx context.Context, st store.Audit) (int64, error) {
	headSeq, headHash, err := st.AuditHead(ctx)
	if err != nil {
		return 0, fmt.Errorf("audit: read head: %w", err)
	}
	var n, last int64
	prev := ""
	var past *store.AuditRecord // the first record past the head, if any
	for r, err := range Records(ctx, st) {
		if err != nil {
			return n, fmt.Errorf("audit: read records: %w", err)
		}
		if r.Seq > headSeq && last == headSeq {
			past = &r // appended after the head was read?
			break
		}
		switch {
		case r.Seq != last+1:
			return n, &BadRecord{r.Seq, ReasonGap, fmt.Sprintf("follows record %d", last)}
		case r.PrevHash != prev:
			return n, &BadRecord{r.Seq, ReasonPrevMismatch, fmt.Sprintf("prev %s, but record %d has hash %s", short(r.PrevHash), last, short(prev))}
		}
		want, _ := Seal(r)
		if want != r.Hash {
			return n, &BadRecord{r.Seq, ReasonHashMismatch, fmt.Sprintf("stored %s, content hashes to %s", short(r.Hash), short(want))}
		}
		n++
		last, prev = r.Seq, r.Hash
	}
	if last != headSeq || prev != headHash {
		return n, headMismatch(last, prev, headSeq, headHash)
	}
	if past == nil {
		return n, nil
	}
	// A record past the head must be one the head has moved over since.
	if headSeq, headHash, err = st.AuditHead(ctx); err != nil {
		return n, fmt.Errorf("audit: read head: %w", err)
	}
	if headSeq < past.Seq {
		return n, headMismatch(past.Seq, past.Hash, headSeq, headHash)
	}
	return n, nil
}

// headMismatch reports a log that ends at record last (hash prev) where its head is
// record headSeq.
func headMismatch(last int64, prev string, headSeq int64, headHash string) *BadRecord {
	seq := last + 1 // the first record missing at the end ...
	if last > headSeq {
		seq = headSeq + 1 // ... or the first one past the head
	}
	return &BadRecord{seq, ReasonHead, fmt.Sprintf("the log ends at record %d (%s), its head is record %d (%s)", last, short(prev), headSeq, short(headHash))}
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	if h == "" {
		return `""`
	}
	return h
}
