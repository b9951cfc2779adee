package sim

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"
)

type stage uint8

const (
	stagePassword stage = iota
	stageOTP
	stageInsufficient
	stageConsent // Config.AskConsent: share the data with the service?
)

// pendingLogin is an authorization request waiting for the citizen.
type pendingLogin struct {
	id          string
	browser     string // the browser's CSRF cookie value; forms must echo it
	clientID    string
	redirectURI string
	state       string
	nonce       string
	challenge   string
	scope       string
	level       int // requested acr
	lang        string
	loginHint   string
	stage       stage
	citizen     int
	otp         string
	failures    int
	typedCCCD   string // what the citizen typed last, re-shown after a wrong password
	errKey      string // message key of the last failed attempt, shown until the next post
	binding     string // the client's binding_message, shown on every step
	denyWhy     string // the error_description of an access_denied: why the login ended
	expires     time.Time
}

// authCode is an issued, not yet redeemed, authorization code.
type authCode struct {
	clientID    string
	redirectURI string
	challenge   string
	nonce       string
	scope       string
	citizen     int
	authTime    time.Time
	sid         string
	expires     time.Time
}

// session is the sim's SSO session.
type session struct {
	citizen  int
	authTime time.Time
	expires  time.Time
}

// store holds the sim's short-lived state. Every map is capped: when full after expiring
// old entries, an arbitrary entry is dropped, so memory stays bounded under any load.
type store struct {
	mu        sync.Mutex
	pending   map[string]*pendingLogin
	codes     map[string]*authCode
	sessions  map[string]*session
	lastSweep time.Time
}

func (s *store) init() {
	s.pending = make(map[string]*pendingLogin)
	s.codes = make(map[string]*authCode)
	s.sessions = make(map[string]*session)
}

// sweepLocked drops expired entries at most every sweepInterval, or when a map is full.
func (s *store) sweepLocked(now time.Time, force bool) {
	if !force && now.Sub(s.lastSweep) < sweepInterval {
		return
	}
	s.lastSweep = now
	for k, v := range s.pending {
		if !now.Before(v.expires) {
			delete(s.pending, k)
		}
	}
	for k, v := range s.codes {
		if !now.Before(v.expires) {
			delete(s.codes, k)
		}
	}
	for k, v := range s.sessions {
		if !now.Before(v.expires) {
			delete(s.sessions, k)
		}
	}
}

func makeRoom[V any](s *store, m map[string]V, limit int, now time.Time) {
	if len(m) < limit {
		return
	}
	s.sweepLocked(now, true)
	for k := range m {
		if len(m) < limit {
			break
		}
		delete(m, k)
	}
}

func (s *store) putPending(p *pendingLogin, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now, false)
	makeRoom(s, s.pending, maxPending, now)
	s.pending[p.id] = p
}

// withPending runs f on the pending login id under the lock; f returns whether to delete
// it. It reports false when the login is unknown or expired.
func (s *store) withPending(id string, now time.Time, f func(p *pendingLogin) (remove bool)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pending[id]
	if !ok || !now.Before(p.expires) {
		delete(s.pending, id)
		return false
	}
	if f(p) {
		delete(s.pending, id)
	}
	return true
}

func (s *store) putCode(code string, c *authCode, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now, false)
	makeRoom(s, s.codes, maxCodes, now)
	s.codes[code] = c
}

// takeCode removes and returns the code: a code is spent on first presentation.
func (s *store) takeCode(code string, now time.Time) (*authCode, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.codes[code]
	delete(s.codes, code)
	if !ok || !now.Before(c.expires) {
		return nil, false
	}
	return c, true
}

func (s *store) putSession(id string, ss *session, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now, false)
	makeRoom(s, s.sessions, maxSessions, now)
	s.sessions[id] = ss
}

func (s *store) session(id string, now time.Time) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[id]
	if !ok || !now.Before(ss.expires) {
		return session{}, false
	}
	return *ss, true
}

func (s *store) endSession(id string) {
	s.mu.Lock()
	delete(s.sessions, id)
	s.mu.Unlock()
}

// size reports the number of entries per map (tests).
func (s *store) size() (pending, codes, sessions int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending), len(s.codes), len(s.sessions)
}

// randomToken returns n random bytes, base64url without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// randomDigits returns n random decimal digits.
func randomDigits(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = '0' + b[i]%10 // slight bias is fine for a dev one-time code
	}
	return string(b)
}
