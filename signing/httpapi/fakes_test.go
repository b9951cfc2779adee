package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/motlan/motlan/signing"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeService keeps requests in memory; it answers like the contract says.
type fakeService struct {
	mu       sync.Mutex
	now      func() time.Time
	reqs     map[string]*signing.Request
	pdfs     map[string][][]byte
	signed   map[string][][]byte
	keys     map[string]string // client + key → id
	inputs   []signing.CreateInput
	approved [][]string
	waits    []time.Duration
	changed  chan struct{} // closed and replaced on every update
	next     int
}

func newFakeService(now func() time.Time) *fakeService {
	return &fakeService{now: now, reqs: map[string]*signing.Request{}, pdfs: map[string][][]byte{},
		signed: map[string][][]byte{}, keys: map[string]string{}, changed: make(chan struct{})}
}

func hexSHA(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// put stores a request directly (tests' fixtures).
func (f *fakeService) put(r signing.Request, pdfs ...[]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range r.Documents {
		r.Documents[i].Index = i
		if i < len(pdfs) && r.Documents[i].SHA256 == "" {
			r.Documents[i].SHA256 = hexSHA(pdfs[i])
			r.Documents[i].Size = int64(len(pdfs[i]))
		}
	}
	if r.Version == 0 {
		r.Version = 1
	}
	f.reqs[r.ID] = &r
	f.pdfs[r.ID] = pdfs
}

// update changes a request and wakes waiters.
func (f *fakeService) update(id string, fn func(*signing.Request)) signing.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.reqs[id]
	fn(r)
	r.Version++
	r.UpdatedAt = f.now()
	close(f.changed)
	f.changed = make(chan struct{})
	return *r
}

func (f *fakeService) Create(ctx context.Context, in signing.CreateInput) (signing.Request, error) {
	for i, d := range in.Documents {
		if !bytes.HasPrefix(d.PDF, []byte("%PDF-")) {
			return signing.Request{}, &signing.InputError{Index: i, Code: "not_pdf", Msg: "the file does not start with %PDF-"}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, in)
	sum := func(in signing.CreateInput) string {
		h := sha256.New()
		fmt.Fprintln(h, in.Subject, in.Reason, in.Level)
		for _, d := range in.Documents {
			fmt.Fprintln(h, d.Title, hexSHA(d.PDF))
		}
		return hex.EncodeToString(h.Sum(nil))
	}
	if in.IdempotencyKey != "" {
		if id, ok := f.keys[in.ClientID+"\x00"+in.IdempotencyKey]; ok {
			r := f.reqs[id]
			if r.Failure != sum(in) { // the fake keeps the content hash in Failure
				return signing.Request{}, fmt.Errorf("create: %w", signing.ErrConflict)
			}
			out := *r
			out.Failure = ""
			return out, nil
		}
	}
	f.next++
	now := f.now()
	ttl := in.TTL
	if ttl == 0 {
		ttl = 15 * time.Minute
	}
	r := signing.Request{
		ID: fmt.Sprintf("req%d", f.next), ClientID: in.ClientID, Subject: in.Subject, CitizenID: in.CitizenID,
		Reason: in.Reason, Location: in.Location, Level: in.Level, Status: signing.StatusPending,
		CallbackURL: in.CallbackURL, IdempotencyKey: in.IdempotencyKey, CreatedAt: now, UpdatedAt: now,
		ExpiresAt: now.Add(ttl), Version: 1, Failure: sum(in),
	}
	var pdfs [][]byte
	for i, d := range in.Documents {
		r.Documents = append(r.Documents, signing.Document{Index: i, Title: d.Title, Pages: 1, Size: int64(len(d.PDF)), SHA256: hexSHA(d.PDF), Placement: d.Placement})
		pdfs = append(pdfs, d.PDF)
	}
	f.reqs[r.ID] = &r
	f.pdfs[r.ID] = pdfs
	if in.IdempotencyKey != "" {
		f.keys[in.ClientID+"\x00"+in.IdempotencyKey] = r.ID
	}
	out := r
	out.Failure = ""
	return out, nil
}

func (f *fakeService) get(clientID, id string) (signing.Request, error) {
	r, ok := f.reqs[id]
	if !ok || r.ClientID != clientID {
		return signing.Request{}, signing.ErrNotFound
	}
	out := *r
	if out.Status == signing.StatusPending {
		out.Failure = ""
	}
	return out, nil
}

func (f *fakeService) Get(ctx context.Context, clientID, id string) (signing.Request, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.get(clientID, id)
}

// Wait keeps signing.Service.Wait's contract (a negative since: the first read's
// version; an ended request at once) and records each max it blocked for in f.waits.
func (f *fakeService) Wait(ctx context.Context, clientID, id string, since int64, max time.Duration) (signing.Request, error) {
	timer := time.NewTimer(max)
	defer timer.Stop()
	for first := true; ; first = false {
		f.mu.Lock()
		r, err := f.get(clientID, id)
		ch := f.changed
		if err == nil && since < 0 {
			since = r.Version
		}
		blocks := err == nil && r.Version <= since && !r.Status.Final()
		if blocks && first {
			f.waits = append(f.waits, max)
		}
		f.mu.Unlock()
		if !blocks {
			return r, err
		}
		select {
		case <-ch:
		case <-timer.C:
			return f.Get(ctx, clientID, id)
		case <-ctx.Done():
			return signing.Request{}, ctx.Err()
		}
	}
}

func (f *fakeService) Cancel(ctx context.Context, clientID, id, reason string) (signing.Request, error) {
	f.mu.Lock()
	r, err := f.get(clientID, id)
	f.mu.Unlock()
	if err != nil {
		return r, err
	}
	switch {
	case r.Status == signing.StatusExpired:
		return r, signing.ErrExpired
	case r.Status.Final():
		return r, signing.ErrFinal
	case r.Status != signing.StatusPending:
		return r, signing.ErrNotPending
	}
	return f.update(id, func(r *signing.Request) { r.Status, r.CancelReason = signing.StatusCanceled, reason }), nil
}

func (f *fakeService) List(ctx context.Context, clientID, subject string, limit int) ([]signing.Request, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []signing.Request
	for _, r := range f.reqs {
		if r.ClientID == clientID && r.Subject == subject && len(out) < limit {
			out = append(out, *r)
		}
	}
	return out, nil
}

func (f *fakeService) SignedPDF(ctx context.Context, clientID, id string, index int) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.get(clientID, id); err != nil {
		return nil, err
	}
	s := f.signed[id]
	if index >= len(s) {
		return nil, signing.ErrNotFound
	}
	return s[index], nil
}

func (f *fakeService) mine(id, citizenID string, subjectFor func(string) string) (signing.Request, error) {
	r, ok := f.reqs[id]
	if !ok {
		return signing.Request{}, signing.ErrNotFound
	}
	if r.Subject != subjectFor(r.ClientID) {
		return signing.Request{}, signing.ErrForbidden
	}
	return *r, nil
}

// Preview is what the link says before login (signing.Service.Preview).
func (f *fakeService) Preview(ctx context.Context, id string) (signing.Preview, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.reqs[id]
	if !ok {
		return signing.Preview{}, signing.ErrNotFound
	}
	return signing.Preview{ClientID: r.ClientID, Documents: len(r.Documents), Status: r.Status,
		CancelReason: r.CancelReason, ExpiresAt: r.ExpiresAt}, nil
}

func (f *fakeService) ForApproval(ctx context.Context, id, citizenID string, subjectFor func(string) string) (signing.Request, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.mine(id, citizenID, subjectFor)
	if err == nil && r.Status == signing.StatusExpired {
		return r, signing.ErrExpired
	}
	return r, err
}

func (f *fakeService) OriginalPDF(ctx context.Context, id string, index int, citizenID string, subjectFor func(string) string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.mine(id, citizenID, subjectFor); err != nil {
		return nil, err
	}
	p := f.pdfs[id]
	if index >= len(p) {
		return nil, signing.ErrNotFound
	}
	return p[index], nil
}

func (f *fakeService) Approve(ctx context.Context, id, citizenID string, subjectFor func(string) string, hashes []string) (signing.Request, error) {
	f.mu.Lock()
	f.approved = append(f.approved, hashes)
	r, err := f.mine(id, citizenID, subjectFor)
	f.mu.Unlock()
	if err != nil {
		return r, err
	}
	if r.Status != signing.StatusPending {
		return r, signing.ErrNotPending
	}
	if len(hashes) != len(r.Documents) {
		return r, signing.ErrMismatch
	}
	for i, d := range r.Documents {
		if d.SHA256 != hashes[i] {
			return r, signing.ErrMismatch
		}
	}
	now := f.now()
	f.mu.Lock()
	var s [][]byte
	for _, p := range f.pdfs[id] {
		s = append(s, append(append([]byte{}, p...), "\n% signed\n"...))
	}
	f.signed[id] = s
	f.mu.Unlock()
	return f.update(id, func(r *signing.Request) {
		r.Status, r.CitizenID, r.ApprovedHashes = signing.StatusSigned, citizenID, hashes
		for i := range r.Documents {
			r.Documents[i].SignedAt = now
			r.Documents[i].SignedSHA = hexSHA(s[i])
		}
	}), nil
}

func (f *fakeService) Reject(ctx context.Context, id, citizenID string, subjectFor func(string) string) (signing.Request, error) {
	f.mu.Lock()
	r, err := f.mine(id, citizenID, subjectFor)
	f.mu.Unlock()
	if err != nil {
		return r, err
	}
	if r.Status != signing.StatusPending {
		return r, signing.ErrNotPending
	}
	return f.update(id, func(r *signing.Request) { r.Status = signing.StatusRejected }), nil
}

func (f *fakeService) ApprovalCitizen(_ context.Context, id string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.reqs[id]
	if !ok {
		return "", signing.ErrNotFound
	}
	return r.CitizenID, nil
}

func (f *fakeService) Block(_ context.Context, id string, until time.Time) (signing.Request, error) {
	f.mu.Lock()
	r, ok := f.reqs[id]
	f.mu.Unlock()
	if !ok {
		return signing.Request{}, signing.ErrNotFound
	}
	if r.Status != signing.StatusPending {
		return *r, signing.ErrNotPending
	}
	return f.update(id, func(r *signing.Request) { r.BlockedUntil = until }), nil
}

var _ Service = (*fakeService)(nil)
var _ approvalBlocker = (*fakeService)(nil)

// fakeAuth knows bearer tokens and browser sessions (cookie "sid") by name.
type fakeAuth struct {
	mu       sync.Mutex
	tokens   map[string]Caller
	sessions map[string]fakeSession
}

type fakeSession struct {
	citizenID, acr string
	authTime       time.Time
}

func (a *fakeAuth) APICaller(r *http.Request) (Caller, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return Caller{}, fmt.Errorf("auth: %w", ErrNoToken)
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	a.mu.Lock()
	defer a.mu.Unlock()
	c, known := a.tokens[tok]
	if !ok || !known {
		return Caller{}, errors.New("auth: unknown token")
	}
	return c, nil
}

func (a *fakeAuth) BrowserCitizen(r *http.Request) (string, string, time.Time, bool) {
	ck, err := r.Cookie("sid")
	if err != nil {
		return "", "", time.Time{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[ck.Value]
	return s.citizenID, s.acr, s.authTime, ok
}

func (a *fakeAuth) StepUpURL(returnPath, lang string) string {
	return "https://id.motlan.test/stepup?" + url.Values{"return": {returnPath}, "lang": {lang}}.Encode()
}

func (a *fakeAuth) SubjectFor(clientID, citizenID string) string {
	return "sub-" + citizenID + "@" + clientID
}

// CitizenFor knows the SubjectFor form (sub-<citizen>@<client>) at that client, and at the
// portal the other subjects the tests use: "s", "t" and "sub-<anything>".
func (a *fakeAuth) CitizenFor(_ context.Context, clientID, subject string) (string, bool, error) {
	cid, sub := strings.CutPrefix(subject, "sub-")
	if at := strings.LastIndexByte(cid, '@'); at >= 0 {
		if !sub || cid[at+1:] != clientID {
			return "", false, nil
		}
		return cid[:at], true, nil
	}
	if clientID == portal && (sub || subject == "s" || subject == "t") {
		return "cit-" + cid, true, nil
	}
	return "", false, nil
}

var _ Auth = (*fakeAuth)(nil)
