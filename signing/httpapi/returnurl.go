package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// ReturnOrigins lists, per client, the origins ("https://portal.example.vn") its
// return_url may point to: the origins of its registered redirect URIs.
type ReturnOrigins map[string][]string

// OriginsOf gives the origins of redirect URIs, for ReturnOrigins.
func OriginsOf(redirectURIs []string) []string {
	var out []string
	for _, s := range redirectURIs {
		if o := originOf(s); o != "" {
			out = append(out, o)
		}
	}
	return out
}

func originOf(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// validReturn accepts a return_url only to the client's own registered origins, so the
// approval page's button cannot send a citizen to a look-alike site; in development, any
// http://localhost or loopback address too.
func (a *API) validReturn(clientID, s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.Opaque != "" || len(s) > 2000 || strings.ContainsFunc(s, isCtl) {
		return false
	}
	o := originOf(s)
	for _, allowed := range a.returns[clientID] {
		if o == allowed {
			return true
		}
	}
	if !a.devReturn || u.Scheme != "http" {
		return false
	}
	if h := u.Hostname(); h == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}

func isCtl(r rune) bool { return r < 0x20 || r == 0x7f }

// cancelReason reads the optional JSON body of a cancel: {"reason":"superseded"}. No body
// (or an empty one) is no reason.
func cancelReason(r *http.Request) (string, error) {
	if r.Body == nil {
		return "", nil
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 4<<10+1))
	if err != nil {
		return "", err
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return "", nil
	}
	if len(raw) > 4<<10 {
		return "", errors.New("body too large")
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return "", err
	}
	return body.Reason, nil
}
