package session

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/motlan/motlan/idp/store"
)

// OpenID Connect Back-Channel Logout 1.0: when a session ends, every client that was
// issued tokens in it and registered a backchannel_logout_uri receives a signed logout
// token, from the background, so the browser never waits for relying parties.

const (
	// BackchannelLogoutEvent is the event a logout token carries (section 2.4).
	BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"
	logoutTokenTTL         = 2 * time.Minute
	backchannelAttempts    = 3
)

// DefaultBackchannelClient posts logout tokens: short timeout, no redirects (a redirect
// would carry the token somewhere the client did not register).
func DefaultBackchannelClient() *http.Client {
	return &http.Client{
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// logoutClaims is a logout token's payload (section 2.4): no nonce, sid always.
type logoutClaims struct {
	Iss    string                     `json:"iss"`
	Sub    string                     `json:"sub,omitempty"`
	Aud    string                     `json:"aud"`
	Iat    int64                      `json:"iat"`
	Exp    int64                      `json:"exp"`
	Jti    string                     `json:"jti"`
	Sid    string                     `json:"sid"`
	Events map[string]json.RawMessage `json:"events"`
}

// backchannelLogout tells the clients of an ended session, in the background. The
// request's context only lends its values: the work outlives the request.
func (m *Manager) backchannelLogout(ctx context.Context, s store.Session) {
	ctx = context.WithoutCancel(ctx)
	m.bcWG.Add(1)
	go func() {
		defer m.bcWG.Done()
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		m.notifySessionClients(ctx, s)
	}()
}

// notifySessionClients sends the logout tokens of one session, one client at a time
// concurrently, and returns when every send has succeeded or given up.
func (m *Manager) notifySessionClients(ctx context.Context, s store.Session) {
	ids, err := m.cfg.Store.SessionClients(ctx, s.ID)
	if err != nil {
		m.cfg.Logger.ErrorContext(ctx, "back-channel logout: list clients of the session", "err", err)
		return
	}
	done := make(chan struct{}, len(ids))
	n := 0
	for _, id := range ids {
		c, ok := m.cfg.Clients.Get(ctx, id)
		if !ok || c.BackchannelLogoutURI == "" {
			continue
		}
		n++
		go func() {
			defer func() { done <- struct{}{} }()
			if err := m.sendLogoutToken(ctx, c, s); err != nil {
				m.cfg.Logger.WarnContext(ctx, "back-channel logout failed", "client_id", c.ID, "err", err)
			}
		}()
	}
	for range n {
		<-done
	}
}

// logoutToken signs the logout token for client c and session s with the algorithm of
// c's ID tokens, so the client verifies both alike.
func (m *Manager) logoutToken(ctx context.Context, c store.Client, s store.Session) (string, error) {
	now := m.cfg.Now()
	b, err := json.Marshal(logoutClaims{
		Iss: m.cfg.Issuer, Sub: m.cfg.Tokens.Subject(c, s.CitizenID), Aud: c.ID, Iat: now.Unix(),
		Exp: now.Add(logoutTokenTTL).Unix(), Jti: rand.Text(), Sid: m.cfg.Tokens.Sid(s.ID),
		Events: map[string]json.RawMessage{BackchannelLogoutEvent: json.RawMessage("{}")},
	})
	if err != nil {
		return "", err
	}
	alg := c.IDTokenAlg
	if alg == "" {
		alg = "ES256"
	}
	return m.cfg.Keys.Sign(ctx, alg, "logout+jwt", b)
}

// sendLogoutToken posts one logout token, retrying network errors, 5xx and 429 with
// exponential backoff, at most backchannelAttempts times. The same token goes each
// time: it is one logout event, and the retries fit well within its lifetime.
func (m *Manager) sendLogoutToken(ctx context.Context, c store.Client, s store.Session) error {
	tok, err := m.logoutToken(ctx, c, s)
	if err != nil {
		return fmt.Errorf("sign logout token: %w", err)
	}
	body := url.Values{"logout_token": {tok}}.Encode()
	wait := m.cfg.BackchannelBackoff
	for attempt := 1; ; attempt++ {
		retry, err := m.postLogoutToken(ctx, c.BackchannelLogoutURI, body)
		if err == nil {
			return nil
		}
		if !retry || attempt == backchannelAttempts {
			return fmt.Errorf("attempt %d: %w", attempt, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("attempt %d: %w (gave up: %w)", attempt, err, ctx.Err())
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// postLogoutToken makes one attempt; retry reports whether another may succeed.
func (m *Manager) postLogoutToken(ctx context.Context, uri, body string) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := m.cfg.BackchannelClient.Do(req)
	if err != nil {
		return true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return true, fmt.Errorf("status %d", resp.StatusCode)
	default: // 400: the client refused the token; sending it again changes nothing
		return false, fmt.Errorf("status %d", resp.StatusCode)
	}
}
