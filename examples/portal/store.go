package portal

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// dossierStore keeps each citizen's drafts and dossiers in memory: an example app's
// storage (a restart forgets them; a real portal keeps them in its database). A draft is
// what the citizen typed for a bundle, saved on every "Tiếp tục", so back and retry never
// lose it; the open dossier is the one being signed, with its one signing request; a
// submitted dossier has a number and keeps its signed PDFs, reachable from "Hồ sơ của
// tôi". Everything is keyed by the citizen's subject at the provider (stable for this
// portal), so it survives a new login.
type dossierStore struct {
	mu        sync.Mutex
	drafts    map[draftKey]values
	open      map[draftKey]*dossierRec
	byRequest map[string]*dossierRec // submitted, by their signing request
	byNumber  map[string]*dossierRec
	bySub     map[string][]*dossierRec // submitted, oldest first
	seq       map[string]int           // last sequence number, by day (YYYYMMDD)
}

type draftKey struct{ Sub, Bundle string }

// dossierRec is one dossier: open (being signed) until submitted with a number.
type dossierRec struct {
	Sub, Bundle string
	Key         string // random, per dossier: the base of its requests' idempotency keys
	RequestID   string // the current signing request; "" before the first "Ký số"
	DocsHash    string // of the PDFs the current request carries
	Created     int    // requests created for this dossier so far
	Number      string // the dossier number, once submitted
	Submitted   time.Time
	Values      values // what the current request's forms were made of
	Docs        []submittedDoc
}

// submittedDoc is one signed form of a submitted dossier, with its verification.
type submittedDoc struct {
	Title, File string
	PDF         []byte
	Report      docReport
}

func newDossierStore() *dossierStore {
	return &dossierStore{
		drafts: map[draftKey]values{}, open: map[draftKey]*dossierRec{}, byRequest: map[string]*dossierRec{},
		byNumber: map[string]*dossierRec{}, bySub: map[string][]*dossierRec{}, seq: map[string]int{},
	}
}

// draft returns a copy of the citizen's draft for a bundle (nil when none).
func (s *dossierStore) draft(sub, bundle string) values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.drafts[draftKey{sub, bundle}])
}

func (s *dossierStore) saveDraft(sub, bundle string, v values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drafts[draftKey{sub, bundle}] = maps.Clone(v)
}

// openDossier returns a copy of the citizen's open dossier for a bundle, starting one.
func (s *dossierStore) openDossier(sub, bundle string) dossierRec {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := draftKey{sub, bundle}
	d := s.open[k]
	if d == nil {
		d = &dossierRec{Sub: sub, Bundle: bundle, Key: randomToken(12)}
		s.open[k] = d
	}
	return *d
}

// setRequest records the open dossier's new signing request; it returns the request it
// replaces ("" when none or the same).
func (s *dossierStore) setRequest(sub, bundle, key, id, docsHash string, v values) (replaced string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.open[draftKey{sub, bundle}]
	if d == nil || d.Key != key || d.RequestID == id {
		return ""
	}
	replaced, d.RequestID, d.DocsHash, d.Values = d.RequestID, id, docsHash, maps.Clone(v)
	d.Created++
	return replaced
}

// submitted returns the submitted dossier of a signing request.
func (s *dossierStore) submitted(sub, requestID string) (dossierRec, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.byRequest[requestID]
	if d == nil || d.Sub != sub {
		return dossierRec{}, false
	}
	return *d, true
}

// openFor returns the open dossier whose current request is requestID.
func (s *dossierStore) openFor(sub, requestID string) (dossierRec, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, d := range s.open {
		if k.Sub == sub && d.RequestID == requestID {
			return *d, true
		}
	}
	return dossierRec{}, false
}

// submit numbers the open dossier signed by requestID and files it with its documents;
// the draft is spent. Submitting twice returns the first number.
func (s *dossierStore) submit(sub, requestID string, docs []submittedDoc, now time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.byRequest[requestID]; d != nil && d.Sub == sub {
		return d.Number, nil
	}
	var k draftKey
	var d *dossierRec
	for key, o := range s.open {
		if key.Sub == sub && o.RequestID == requestID {
			k, d = key, o
		}
	}
	if d == nil {
		return "", fmt.Errorf("portal: no open dossier for request %s", requestID)
	}
	d.Number, d.Submitted, d.Docs = s.nextNumber(now), now, docs
	delete(s.open, k)
	delete(s.drafts, k)
	s.byRequest[requestID], s.byNumber[d.Number] = d, d
	s.bySub[sub] = append(s.bySub[sub], d)
	return d.Number, nil
}

// nextNumber is a dossier number as Vietnamese one-stop portals print them: "H38" (a
// dossier, hồ sơ, of province code 38, Thanh Hóa, as in its CCCD numbers 038...), the day
// of submission in Vietnam time (YYYYMMDD), and the sequence within that day, six digits:
// H38-20261206-000001. The caller holds the lock.
func (s *dossierStore) nextNumber(now time.Time) string {
	day := now.In(vietnam).Format("20060102")
	s.seq[day]++
	return fmt.Sprintf("H38-%s-%06d", day, s.seq[day])
}

// byNum returns the citizen's submitted dossier with that number.
func (s *dossierStore) byNum(sub, number string) (dossierRec, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.byNumber[number]
	if d == nil || d.Sub != sub {
		return dossierRec{}, false
	}
	return *d, true
}

// list returns the citizen's submitted dossiers, newest first, and the bundles with a
// draft not yet submitted.
func (s *dossierStore) list(sub string) (submitted []dossierRec, drafts []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range slices.Backward(s.bySub[sub]) {
		submitted = append(submitted, *d)
	}
	for k := range s.drafts {
		if k.Sub == sub {
			drafts = append(drafts, k.Bundle)
		}
	}
	slices.Sort(drafts)
	return submitted, drafts
}
