package signing

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/keys/ca"
	"github.com/motlan/motlan/keys/vault"
	"github.com/motlan/motlan/signing/ltv"
)

// CertIssuer is the certification authority as signing uses it: the dev CA (keys/ca.DevCA)
// or a production CA behind the same methods.
type CertIssuer interface {
	IssueCitizenCert(ctx context.Context, req ca.CitizenCertRequest) (*x509.Certificate, []*x509.Certificate, error)
	// Revoked returns the certificate's revocation, or nil when it is not revoked.
	Revoked(ctx context.Context, serial *big.Int) (*ca.Revocation, error)
}

// CitizenInfo is what a certificate needs to know about a citizen.
type CitizenInfo struct {
	ID, Name, CCCD, Province, Locality string
}

// Citizens looks citizens up by Motlan's citizen id (the idp store implements it).
type Citizens interface {
	Citizen(ctx context.Context, id string) (CitizenInfo, error)
}

// Defaults of ServiceConfig.
const (
	DefaultTTL             = 15 * time.Minute
	MaxTTL                 = 24 * time.Hour
	DefaultMaxDocumentSize = 50 << 20
	DefaultMaxDocuments    = 10
	DefaultLease           = 30 * time.Second
	DefaultSignParallel    = 4
	DefaultApprovalWait    = 5 * time.Second
	DefaultCallbackRetries = 4
	DefaultCallbackBackoff = time.Second
	// MaxAttempts bounds the signing runs of one request (the approval's and Resume's);
	// past it the request fails.
	MaxAttempts = 5

	maxTextBytes   = 500
	maxTitleBytes  = 300
	maxCallbackURL = 2048
	maxListLimit   = 100
)

// ServiceConfig configures NewService. Store and Citizens are required, and Vault and CA
// unless Backend is set.
type ServiceConfig struct {
	Store    Store
	Vault    vault.Vault
	CA       CertIssuer
	Citizens Citizens
	// Timestamp obtains RFC 3161 tokens for B-T (e.g. a closure over tsa.Request). Nil
	// disables B-T: Create then defaults to B-B and refuses an explicit B-T with
	// CodeUnsupportedLevel.
	Timestamp func(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error)
	// LTV extends signatures to B-LT and B-LTA (collecting OCSP responses, CRLs and chains,
	// and for B-LTA adding a document timestamp). Nil disables both levels and Extend;
	// B-LT and B-LTA also need Timestamp, since they build on B-T.
	LTV *ltv.Extender
	// Font is a TrueType font with Vietnamese glyphs for visible signatures; nil makes
	// every signature invisible, whatever the placement.
	Font   []byte
	KeyAlg vault.Alg // citizens' new keys; default ECDSA P-256
	// Backend makes the signatures; nil: the local vault with the dev CA (Vault, CA).
	Backend Backend
	// Sealer seals a remote backend's authorisation (the SAD) in the store; required with
	// a Backend that authorises at the approval (GrantBackend).
	Sealer vault.Sealer

	DefaultTTL      time.Duration // default 15 minutes; a request may ask up to MaxTTL
	MaxDocumentSize int64         // bytes per PDF; default 50 MB
	MaxDocuments    int           // per request; default 10
	// Lease is how long a signing run holds a request before another replica's Resume may
	// take it over; default 30 s, renewed every third of it while the run lives (lease.go).
	Lease time.Duration
	// ReplicaID names this replica as the owner of its signing runs' leases, so that it
	// takes back its own runs at once after a restart; unique among running replicas,
	// stable across restarts, without "|". Empty: leases are only taken over once run out.
	ReplicaID string
	// SignParallel bounds the documents this service signs at once; default 4.
	SignParallel int
	// ApprovalWait is how long an approval waits for its signing run before it answers
	// with the request still signing (the run goes on); default 5 s.
	ApprovalWait time.Duration

	HTTPClient *http.Client // callbacks; default a client with a 10 s timeout
	// CallbackSecret is the HMAC key of a client's callbacks; nil or empty: unsigned.
	CallbackSecret  func(clientID string) []byte
	CallbackRetries int           // after the first attempt; default 4
	CallbackBackoff time.Duration // before the first retry, doubled each time; default 1 s

	// Retention is how long ended requests and their PDFs are kept (zero periods:
	// the defaults); the purge itself is internal/retention's job.
	Retention Retention

	Now    func() time.Time
	Logger *slog.Logger
	// Audit records requests, approvals, rejections and signatures; nil: none.
	Audit *audit.Logger
	// Notifier wakes this replica's long-polls on other replicas' changes (notify.go);
	// nil: one process (SQLite), whose own changes wake its long-polls.
	Notifier Notifier
}

// Service runs signing requests. It keeps no state another replica needs; it is safe
// for concurrent use. Close stops its background callbacks.
type Service struct {
	cfg     ServiceConfig
	now     func() time.Time
	log     *slog.Logger
	intake  intakeChecker
	backend Backend

	mu       sync.Mutex
	waiters  map[string]*waiter // requests being long-polled (notify.go)
	known    knownRequests      // requests as their last long-poll left them (known.go)
	draining atomic.Bool        // BeginDrain was called (drain.go)
	runs     runTracker         // signing runs in progress (drain.go)

	life  string        // this process life's part of its workers' names (lease.go)
	slots chan struct{} // SignParallel tokens, one per document being signed

	bg     context.Context
	stop   context.CancelFunc
	wg     sync.WaitGroup
	closed bool
}

// NewService checks cfg and returns a Service.
func NewService(cfg ServiceConfig) (*Service, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("signing: ServiceConfig.Store is required")
	case cfg.Backend == nil && cfg.Vault == nil:
		return nil, errors.New("signing: ServiceConfig.Vault is required")
	case cfg.Backend == nil && cfg.CA == nil:
		return nil, errors.New("signing: ServiceConfig.CA is required")
	case cfg.Citizens == nil:
		return nil, errors.New("signing: ServiceConfig.Citizens is required")
	case strings.Contains(cfg.ReplicaID, "|"):
		return nil, errors.New("signing: ServiceConfig.ReplicaID must not contain |")
	case cfg.Sealer == nil && isGrantBackend(cfg.Backend):
		return nil, errors.New("signing: ServiceConfig.Sealer is required with a backend that authorises at the approval")
	case cfg.DefaultTTL < 0 || cfg.DefaultTTL > MaxTTL || cfg.MaxDocumentSize < 0 || cfg.MaxDocuments < 0 || cfg.Lease < 0 ||
		cfg.SignParallel < 0 || cfg.ApprovalWait < 0:
		return nil, errors.New("signing: ServiceConfig has a negative or too large limit")
	}
	if cfg.DefaultTTL == 0 {
		cfg.DefaultTTL = DefaultTTL
	}
	if cfg.MaxDocumentSize == 0 {
		cfg.MaxDocumentSize = DefaultMaxDocumentSize
	}
	if cfg.MaxDocuments == 0 {
		cfg.MaxDocuments = DefaultMaxDocuments
	}
	if cfg.Lease == 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.SignParallel == 0 {
		cfg.SignParallel = DefaultSignParallel
	}
	if cfg.ApprovalWait == 0 {
		cfg.ApprovalWait = DefaultApprovalWait
	}
	if cfg.KeyAlg == "" {
		cfg.KeyAlg = vault.ECDSAP256
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.CallbackRetries == 0 {
		cfg.CallbackRetries = DefaultCallbackRetries
	}
	if cfg.CallbackBackoff == 0 {
		cfg.CallbackBackoff = DefaultCallbackBackoff
	}
	cfg.Retention = cfg.Retention.WithDefaults()
	if err := cfg.Retention.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ic, err := newIntakeChecker(cfg.MaxDocumentSize)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, now: cfg.Now, log: cfg.Logger.With("component", "signing"), intake: ic, waiters: map[string]*waiter{}}
	s.life, s.slots = newID(), make(chan struct{}, cfg.SignParallel)
	s.backend = cfg.Backend
	if s.backend == nil {
		s.backend = localBackend{s}
	}
	s.bg, s.stop = context.WithCancel(context.Background())
	s.runs.init()
	s.subscribe()
	return s, nil
}

// Close stops callback deliveries in flight and waits for them.
func (s *Service) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.stop()
	s.wg.Wait()
	return nil
}

// ---- relying party side

// Create validates every document, then stores the request. Nothing is stored when any
// input is bad (*InputError). A retry with the client's IdempotencyKey and the same
// content answers the first request; with other content, ErrConflict.
func (s *Service) Create(ctx context.Context, in CreateInput) (Request, error) {
	level, ttl, err := s.checkCreate(in)
	if err != nil {
		return Request{}, err
	}
	docs, pdfs, err := s.intakeDocuments(ctx, in.Documents)
	if err != nil {
		return Request{}, err
	}
	now := s.now()
	req := Request{
		ID:       newID(),
		ClientID: in.ClientID, Subject: in.Subject, CitizenID: in.CitizenID,
		Reason: in.Reason, Location: in.Location, Level: level, Status: StatusPending,
		Documents: docs, CallbackURL: in.CallbackURL, IdempotencyKey: in.IdempotencyKey,
		ReturnURL: in.ReturnURL, CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
	req.Fingerprint = fingerprint(req, ttl)
	got, err := s.cfg.Store.CreateSigningRequest(ctx, req, pdfs)
	if err != nil {
		if errors.Is(err, ErrConflict) {
			return Request{}, fmt.Errorf("signing: idempotency key reused with other content: %w", ErrConflict)
		}
		return Request{}, err
	}
	if got.ID == req.ID {
		s.log.InfoContext(ctx, "signing request created", "request", got.ID, "client", got.ClientID, "documents", len(docs), "level", level)
		s.audit(ctx, audit.KindSigningCreate, audit.Client(got.ClientID), got)
	}
	return got, nil
}

// checkCreate checks a request's fields other than its documents and returns its level
// and lifetime with the defaults applied.
func (s *Service) checkCreate(in CreateInput) (Level, time.Duration, error) {
	bad := func(code, format string, args ...any) (Level, time.Duration, error) {
		return "", 0, &InputError{Index: -1, Code: code, Msg: fmt.Sprintf(format, args...)}
	}
	if in.ClientID == "" {
		return bad(CodeInvalid, "no client")
	}
	if in.Subject == "" && in.CitizenID == "" {
		return bad(CodeInvalid, "no citizen: give the subject")
	}
	level, err := s.checkLevel(in.Level)
	if err != nil {
		return "", 0, err
	}
	for name, v := range map[string]string{"reason": in.Reason, "location": in.Location, "subject": in.Subject, "idempotency key": in.IdempotencyKey} {
		if len(v) > maxTextBytes || !utf8.ValidString(v) {
			return bad(CodeInvalid, "%s is not valid UTF-8 of at most %d bytes", name, maxTextBytes)
		}
	}
	if in.CallbackURL != "" {
		u, err := url.Parse(in.CallbackURL)
		if err != nil || len(in.CallbackURL) > maxCallbackURL || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return bad(CodeInvalid, "callback URL must be an absolute http(s) URL")
		}
	}
	if in.ReturnURL != "" {
		u, err := url.Parse(in.ReturnURL)
		if err != nil || len(in.ReturnURL) > maxCallbackURL || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return bad(CodeInvalid, "return URL must be an absolute http(s) URL")
		}
	}
	ttl := in.TTL
	if ttl == 0 {
		ttl = s.cfg.DefaultTTL
	}
	if ttl < time.Minute || ttl > MaxTTL {
		return bad(CodeInvalid, "TTL must be between 1 minute and %v", MaxTTL)
	}
	switch n := len(in.Documents); {
	case n == 0:
		return bad(CodeNoDocuments, "a request needs at least one document")
	case n > s.cfg.MaxDocuments:
		return bad(CodeTooMany, "%d documents; at most %d", n, s.cfg.MaxDocuments)
	}
	return level, ttl, nil
}

// checkLevel returns the level asked for (default: B-T with a TSA, else B-B) if this
// service can make it.
func (s *Service) checkLevel(level Level) (Level, error) {
	bad := func(code, format string, args ...any) (Level, error) {
		return "", &InputError{Index: -1, Code: code, Msg: fmt.Sprintf(format, args...)}
	}
	switch level {
	case "":
		if s.cfg.Timestamp == nil {
			return LevelBB, nil
		}
		return LevelBT, nil
	case LevelBB:
	case LevelBT:
		if s.cfg.Timestamp == nil {
			return bad(CodeUnsupportedLevel, "level B-T needs a timestamp authority, which is not configured")
		}
	case LevelBLT, LevelBLTA:
		if msg := s.longTermUnsupported(level); msg != "" {
			return bad(CodeUnsupportedLevel, "%s", msg)
		}
	default:
		return bad(CodeInvalid, "level must be B-B, B-T, B-LT or B-LTA")
	}
	return level, nil
}

// intakeDocuments checks each document (title, PDF, placement) and returns their records
// and bytes.
func (s *Service) intakeDocuments(ctx context.Context, in []DocumentInput) ([]Document, [][]byte, error) {
	docs := make([]Document, len(in))
	pdfs := make([][]byte, len(in))
	for i, d := range in {
		title := strings.TrimSpace(d.Title)
		if len(title) > maxTitleBytes || !utf8.ValidString(title) {
			return nil, nil, &InputError{Index: i, Code: CodeInvalid, Msg: fmt.Sprintf("title is not valid UTF-8 of at most %d bytes", maxTitleBytes)}
		}
		if title == "" {
			title = fmt.Sprintf("Tài liệu %d", i+1)
		}
		pages, ierr := s.intake.check(ctx, d.PDF)
		if ierr != nil {
			if ierr.Code == "" { // not the input's fault
				return nil, nil, fmt.Errorf("signing: checking document %d: %s", i, ierr.Msg)
			}
			ierr.Index = i
			return nil, nil, ierr
		}
		if err := checkPlacement(d.Placement, pages); err != "" {
			return nil, nil, &InputError{Index: i, Code: CodeBadPlacement, Msg: err}
		}
		sum := sha256.Sum256(d.PDF)
		var pl *Placement
		if d.Placement != nil {
			p := *d.Placement
			pl = &p
		}
		docs[i] = Document{Index: i, Title: title, Pages: pages, Size: int64(len(d.PDF)), SHA256: hex.EncodeToString(sum[:]), Placement: pl}
		pdfs[i] = d.PDF
	}
	return docs, pdfs, nil
}

// checkPlacement returns why p cannot be placed in a document of pages pages, or "".
func checkPlacement(p *Placement, pages int) string {
	if p == nil {
		return ""
	}
	if p.Page < 0 || p.Page > pages {
		return fmt.Sprintf("page %d of a %d-page document", p.Page, pages)
	}
	for _, v := range p.Rect {
		if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 14400 {
			return "rectangle out of range"
		}
	}
	if !p.Auto && p.Rect != ([4]float64{}) && (p.Rect[2] <= p.Rect[0] || p.Rect[3] <= p.Rect[1]) {
		return "empty rectangle: want llx < urx and lly < ury"
	}
	return ""
}

// fingerprint is what an idempotent retry must repeat.
func fingerprint(r Request, ttl time.Duration) string {
	type doc struct {
		Title     string     `json:"t"`
		SHA256    string     `json:"h"`
		Placement *Placement `json:"p"`
	}
	v := struct {
		Subject, CitizenID, Reason, Location, Level, Callback string
		TTL                                                   int64
		Docs                                                  []doc
	}{r.Subject, r.CitizenID, r.Reason, r.Location, string(r.Level), r.CallbackURL, int64(ttl), nil}
	for _, d := range r.Documents {
		v.Docs = append(v.Docs, doc{d.Title, d.SHA256, d.Placement})
	}
	b, _ := json.Marshal(v) // plain values always marshal
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func newID() string { return strings.ToLower(rand.Text()) }

// Get returns the client's request; other clients' requests are ErrNotFound.
func (s *Service) Get(ctx context.Context, clientID, id string) (Request, error) {
	r, err := s.cfg.Store.GetSigningRequest(ctx, id)
	if err != nil {
		return Request{}, err
	}
	if r.ClientID != clientID {
		return Request{}, fmt.Errorf("signing: request of another client: %w", ErrNotFound)
	}
	return s.expireIfDue(ctx, r)
}

// Cancel withdraws a pending request. Canceling a canceled request answers it again; any
// other ended request is ErrFinal, one being signed ErrNotPending.
func (s *Service) Cancel(ctx context.Context, clientID, id, reason string) (Request, error) {
	if !validCancelReason(reason) {
		return Request{}, &InputError{Index: -1, Code: CodeInvalid, Msg: "reason must be 1 to 32 of a-z and _"}
	}
	if _, err := s.Get(ctx, clientID, id); err != nil {
		return Request{}, err
	}
	r, err := s.cfg.Store.UpdateSigningRequest(ctx, id, func(old Request) (Request, error) {
		if old.Status != StatusPending {
			return old, ErrNotPending
		}
		old.Status, old.CancelReason = StatusCanceled, reason
		return old, nil
	})
	if errors.Is(err, ErrFinal) {
		cur, gerr := s.cfg.Store.GetSigningRequest(ctx, id)
		if gerr == nil && cur.Status == StatusCanceled {
			return cur, nil
		}
		return Request{}, ErrFinal
	}
	if err != nil {
		return Request{}, err
	}
	s.log.InfoContext(ctx, "signing request canceled", "request", id)
	s.ended(r)
	return r, nil
}

// validCancelReason accepts "" or a short snake_case word (CancelSuperseded and the
// portal's own), so the reason is safe to store and show as a key.
func validCancelReason(s string) bool {
	if len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= 'a' && s[i] <= 'z' || s[i] == '_') {
			return false
		}
	}
	return true
}

// List returns the client's requests for subject (all subjects when empty), newest
// first; limit defaults to 20 and is at most 100.
func (s *Service) List(ctx context.Context, clientID, subject string, limit int) ([]Request, error) {
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, maxListLimit)
	rs, err := s.cfg.Store.ListSigningRequests(ctx, clientID, subject, limit)
	if err != nil {
		return nil, err
	}
	for i := range rs {
		if r, err := s.expireIfDue(ctx, rs[i]); err == nil {
			rs[i] = r
		}
	}
	return rs, nil
}

// SignedPDF returns document index signed, once the whole request is signed
// (ErrNotSigned before: nothing half-signed is served; ErrPurged once the retention
// policy deleted it).
func (s *Service) SignedPDF(ctx context.Context, clientID, id string, index int) ([]byte, error) {
	r, err := s.Get(ctx, clientID, id)
	if err != nil {
		return nil, err
	}
	if r.Status != StatusSigned {
		return nil, ErrNotSigned
	}
	if index < 0 || index >= len(r.Documents) {
		return nil, fmt.Errorf("signing: no document %d: %w", index, ErrNotFound)
	}
	return s.cfg.Store.SignedPDF(ctx, id, index)
}

// expireIfDue expires a pending request whose time is up, so readers see it at once
// rather than at the next ExpireDue.
func (s *Service) expireIfDue(ctx context.Context, r Request) (Request, error) {
	if r.Status != StatusPending || s.now().Before(r.ExpiresAt) {
		return r, nil
	}
	now := s.now()
	out, err := s.cfg.Store.UpdateSigningRequest(ctx, r.ID, func(old Request) (Request, error) {
		if old.Status != StatusPending || now.Before(old.ExpiresAt) {
			return old, errUnchanged
		}
		old.Status = StatusExpired
		return old, nil
	})
	if errors.Is(err, errUnchanged) || errors.Is(err, ErrFinal) {
		return s.cfg.Store.GetSigningRequest(ctx, r.ID)
	}
	if err != nil {
		return Request{}, err
	}
	s.ended(out)
	return out, nil
}

var errUnchanged = errors.New("signing: unchanged")

// ExpireDue expires every pending request past its time and reports how many.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	ids, err := s.cfg.Store.ExpireSigningRequests(ctx, s.now())
	for _, id := range ids {
		if r, gerr := s.cfg.Store.GetSigningRequest(ctx, id); gerr == nil {
			s.ended(r)
		}
	}
	return len(ids), err
}

// Run expires due requests and resumes abandoned signing every interval (default 30 s)
// until ctx ends. cmd/motlan runs it beside the HTTP server.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = 30 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.ExpireDue(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "signing: expire", "err", err)
		}
		if _, err := s.Resume(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "signing: resume", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
