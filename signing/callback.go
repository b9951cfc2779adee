package signing

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// CallbackSignatureHeader carries "sha256=<hex HMAC-SHA256 of the body>" under the
// client's callback secret.
const CallbackSignatureHeader = "X-Motlan-Signature"

// CallbackEvent is the body POSTed to a request's CallbackURL when it ends. It carries
// no personal data: the client reads the request with Get.
type CallbackEvent struct {
	ID      string `json:"id"`
	Status  Status `json:"status"`
	Version int64  `json:"version"`
	// BlockedUntil is set on the event of a pending request whose citizen is over the
	// approval rate limit: they can approve from then on.
	BlockedUntil time.Time `json:"blocked_until,omitzero"`
}

// CallbackSignature is the header value for body under secret.
func CallbackSignature(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// ended wakes waiters and, when r has ended and has a callback URL, delivers the callback
// in the background (in this process only: a restart drops deliveries in flight; the
// client's long-poll or Get still sees the status).
func (s *Service) ended(r Request) {
	s.notify(r.ID)
	if !r.Status.Final() {
		return
	}
	s.deliverAsync(r)
}

// deliverAsync delivers r's callback in the background, when it has a callback URL.
func (s *Service) deliverAsync(r Request) {
	if r.CallbackURL == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.deliver(r)
	}()
}

func (s *Service) deliver(r Request) {
	ev := CallbackEvent{ID: r.ID, Status: r.Status, Version: r.Version}
	if r.Status == StatusPending {
		ev.BlockedUntil = r.BlockedUntil.UTC()
	}
	body, _ := json.Marshal(ev)
	var sig string
	if s.cfg.CallbackSecret != nil {
		if secret := s.cfg.CallbackSecret(r.ClientID); len(secret) > 0 {
			sig = CallbackSignature(secret, body)
		}
	}
	wait := s.cfg.CallbackBackoff
	for attempt := 0; ; attempt++ {
		status, err := s.post(r.CallbackURL, body, sig)
		if err == nil && status/100 == 2 {
			s.log.InfoContext(s.bg, "signing: callback delivered", "request", r.ID, "attempt", attempt+1)
			return
		}
		if attempt >= s.cfg.CallbackRetries {
			s.log.WarnContext(s.bg, "signing: callback undelivered", "request", r.ID, "status", status, "err", err)
			return
		}
		select {
		case <-s.bg.Done():
			return
		case <-time.After(wait):
		}
		wait *= 2
	}
}

func (s *Service) post(url string, body []byte, sig string) (int, error) {
	ctx, cancel := context.WithTimeout(s.bg, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Motlan-Signing-Callback/1")
	if sig != "" {
		req.Header.Set(CallbackSignatureHeader, sig)
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}
