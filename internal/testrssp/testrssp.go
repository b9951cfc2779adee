package testrssp

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Faults Fail injects.
const (
	Down5xx      = "down5xx"       // every CSC call answers 503
	Slow         = "slow"          // every call waits Delay first
	SADExpired   = "sad_expired"   // signHash answers "SAD expired"
	Suspended    = "suspended"     // key.status disabled
	Revoked      = "revoked"       // cert.status revoked
	BadSignature = "bad_signature" // signHash signs other bytes
)

// The client Motlan authenticates as, and the OTP credentials/getChallenge "sends".
const (
	ClientID     = "motlan"
	ClientSecret = "rssp-secret"
	SentOTP      = "246810"
)

// RSSP is the service; its methods are safe for concurrent use.
type RSSP struct {
	t     testing.TB
	srv   *httptest.Server
	token string

	mu     sync.Mutex
	creds  map[string]*Cred // by credentialID
	sads   map[string]sad
	fault  string
	delay  time.Duration
	calls  map[string]int
	hashes [][]string // the hashes of every signHash call
	otps   map[string]string
}

// Cred is one credential.
type Cred struct {
	UserID string
	Key    crypto.Signer
	Chain  []*x509.Certificate // end entity first
	Mode   string              // implicit | PIN | OTP
	PIN    string
}

type sad struct {
	cred   string
	hashes []string
	num    int
	exp    time.Time
}

// New starts the service on loopback until t ends.
func New(t testing.TB) *RSSP {
	r := &RSSP{t: t, token: "tok-" + rand.Text(), creds: map[string]*Cred{}, sads: map[string]sad{},
		calls: map[string]int{}, otps: map[string]string{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// BaseURL is the CSC API root; TokenURL the OAuth 2.0 token endpoint.
func (r *RSSP) BaseURL() string  { return r.srv.URL + "/csc/v2" }
func (r *RSSP) TokenURL() string { return r.srv.URL + "/oauth2/token" }

// Add registers a credential under id.
func (r *RSSP) Add(id string, c *Cred) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.creds[id] = c
}

// SetDelay is how long the Slow fault waits.
func (r *RSSP) SetDelay(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delay = d
}

// Calls is how many times each method (and "/oauth2/token") was called.
func (r *RSSP) Calls() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.calls {
		out[k] = v
	}
	return out
}

// Hashes is the hashes of every signHash call so far.
func (r *RSSP) Hashes() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]string(nil), r.hashes...)
}

// Close stops the server (a provider that is down).
func (r *RSSP) Close() { r.srv.Close() }

// Fail makes the service fail in one way from now on ("" for none).
func (r *RSSP) Fail(fault string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fault = fault
}

// Count is how many times method was called.
func (r *RSSP) Count(method string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[method]
}

func (r *RSSP) answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (r *RSSP) oops(w http.ResponseWriter, status int, code, desc string) {
	r.answer(w, status, map[string]any{"error": code, "error_description": desc})
}

func (r *RSSP) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	fault, delay := r.fault, r.delay
	method := strings.TrimPrefix(req.URL.Path, "/csc/v2/")
	r.calls[method]++
	r.mu.Unlock()
	if fault == "slow" {
		time.Sleep(delay)
	}
	if req.URL.Path == "/oauth2/token" {
		if u, p, ok := req.BasicAuth(); !ok || u != ClientID || p != ClientSecret || req.PostFormValue("grant_type") != "client_credentials" {
			r.oops(w, 401, "invalid_client", "bad client")
			return
		}
		r.answer(w, 200, map[string]any{"access_token": r.token, "token_type": "Bearer", "expires_in": 3600})
		return
	}
	if fault == "down5xx" {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return
	}
	if req.Method != http.MethodPost || req.Header.Get("Authorization") != "Bearer "+r.token {
		r.oops(w, 401, "invalid_token", "missing or bad access token")
		return
	}
	var in map[string]any
	if err := json.NewDecoder(req.Body).Decode(&in); err != nil {
		r.oops(w, 400, "invalid_request", "body is not JSON")
		return
	}
	switch method {
	case "credentials/list":
		r.list(w, in)
	case "credentials/info":
		r.info(w, in)
	case "credentials/authorize":
		r.authorize(w, in)
	case "signatures/signHash":
		r.signHash(w, in)
	case "credentials/getChallenge":
		r.mu.Lock()
		r.otps[str(in, "credentialID")] = SentOTP
		r.mu.Unlock()
		r.answer(w, 200, map[string]any{})
	default:
		r.oops(w, 404, "invalid_request", "no such method")
	}
}

func str(in map[string]any, k string) string { s, _ := in[k].(string); return s }

func (r *RSSP) credInfo(id string, c *Cred) map[string]any {
	r.mu.Lock()
	fault := r.fault
	r.mu.Unlock()
	var certs []string
	for _, ch := range c.Chain {
		certs = append(certs, base64.StdEncoding.EncodeToString(ch.Raw))
	}
	keyStatus, certStatus := "enabled", "valid"
	switch fault {
	case "suspended":
		keyStatus = "disabled"
	case "revoked":
		certStatus = "revoked"
	}
	auth := map[string]any{"mode": "implicit"}
	switch c.Mode {
	case "PIN":
		auth = map[string]any{"mode": "explicit", "objects": []any{map[string]any{"type": "Password", "id": "PIN", "format": "N", "label": "PIN"}}}
	case "OTP":
		auth = map[string]any{"mode": "explicit", "objects": []any{map[string]any{"type": "OTP", "id": "OTP", "format": "N", "generator": "sms"}}}
	}
	algo := []string{"1.2.840.10045.4.3.2"}
	if _, ok := c.Chain[0].PublicKey.(interface{ Size() int }); ok {
		algo = []string{"1.2.840.113549.1.1.1"} // RSA keys: rsaEncryption plus hashAlgorithmOID
	}
	return map[string]any{
		"credentialID": id, "description": "Chứng thư số cá nhân",
		"key":  map[string]any{"status": keyStatus, "algo": algo, "len": 256},
		"cert": map[string]any{"status": certStatus, "certificates": certs, "subjectDN": c.Chain[0].Subject.String()},
		"auth": auth, "SCAL": "2", "multisign": 50, "lang": "vi",
	}
}

func (r *RSSP) list(w http.ResponseWriter, in map[string]any) {
	user := str(in, "userID")
	ids, infos := []string{}, []any{}
	r.mu.Lock()
	creds := make(map[string]*Cred, len(r.creds))
	for id, c := range r.creds {
		creds[id] = c
	}
	r.mu.Unlock()
	for _, id := range maps(creds) {
		c := creds[id]
		if user != "" && c.UserID != user {
			continue
		}
		ids = append(ids, id)
		infos = append(infos, r.credInfo(id, c))
	}
	out := map[string]any{"credentialIDs": ids}
	if in["credentialInfo"] == true {
		out["credentialInfos"] = infos
	}
	r.answer(w, 200, out)
}

func maps(m map[string]*Cred) []string {
	var ids []string
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (r *RSSP) info(w http.ResponseWriter, in map[string]any) {
	r.mu.Lock()
	c, ok := r.creds[str(in, "credentialID")]
	r.mu.Unlock()
	if !ok {
		r.oops(w, 400, "invalid_request", "Invalid parameter credentialID")
		return
	}
	r.answer(w, 200, r.credInfo(str(in, "credentialID"), c))
}

func strs(v any) []string {
	var out []string
	for _, x := range asSlice(v) {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func (r *RSSP) authorize(w http.ResponseWriter, in map[string]any) {
	id := str(in, "credentialID")
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.creds[id]
	hashes := strs(in["hashes"])
	num, _ := in["numSignatures"].(float64)
	switch {
	case !ok:
		r.oops(w, 400, "invalid_request", "Invalid parameter credentialID")
		return
	case in["hash"] != nil || in["hashAlgo"] != nil:
		r.oops(w, 400, "invalid_request", "v1 field names are not CSC v2")
		return
	case len(hashes) == 0 || int(num) != len(hashes) || str(in, "hashAlgorithmOID") != "2.16.840.1.101.3.4.2.1":
		r.oops(w, 400, "invalid_request", "SCAL2: numSignatures must equal the hashes, with hashAlgorithmOID")
		return
	}
	var given map[string]string = map[string]string{}
	for _, a := range asSlice(in["authData"]) {
		m, _ := a.(map[string]any)
		given[str(m, "id")] = str(m, "value")
	}
	switch {
	case r.fault == Suspended:
		r.oops(w, 400, "invalid_request", "The credential is suspended")
		return
	case r.fault == Revoked:
		r.oops(w, 400, "invalid_request", "The certificate is revoked")
		return
	case c.Mode == "PIN" && given["PIN"] != c.PIN:
		r.oops(w, 400, "invalid_request", "Invalid PIN")
		return
	case c.Mode == "OTP" && (given["OTP"] == "" || given["OTP"] != r.otps[id]):
		r.oops(w, 400, "invalid_request", "Invalid OTP")
		return
	}
	delete(r.otps, id)
	s := "sad-" + rand.Text()
	r.sads[s] = sad{cred: id, hashes: hashes, num: int(num), exp: time.Now().Add(5 * time.Minute)}
	r.answer(w, 200, map[string]any{"SAD": s, "expiresIn": 300})
}

func (r *RSSP) signHash(w http.ResponseWriter, in map[string]any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, hashes := str(in, "credentialID"), strs(in["hashes"])
	r.hashes = append(r.hashes, hashes)
	s, ok := r.sads[str(in, "SAD")]
	delete(r.sads, str(in, "SAD")) // single use
	switch {
	case r.fault == "sad_expired" || !ok || time.Now().After(s.exp):
		r.oops(w, 400, "invalid_request", "SAD expired")
		return
	case s.cred != id || !slices.Equal(s.hashes, hashes) || len(hashes) != s.num:
		r.oops(w, 400, "invalid_request", "hashes not authorized by the SAD")
		return
	case str(in, "signAlgo") == "":
		r.oops(w, 400, "invalid_request", "Missing (or invalid type) string parameter signAlgo")
		return
	}
	c := r.creds[id]
	var sigs []string
	for _, h := range hashes {
		d, err := base64.StdEncoding.DecodeString(h)
		if err != nil || len(d) != 32 {
			r.oops(w, 400, "invalid_request", "Invalid Base64 hash string parameter")
			return
		}
		if r.fault == "bad_signature" {
			d = bytes.Repeat([]byte{7}, 32)
		}
		sig, err := c.Key.Sign(rand.Reader, d, crypto.SHA256)
		if err != nil {
			r.oops(w, 500, "server_error", err.Error())
			return
		}
		sigs = append(sigs, base64.StdEncoding.EncodeToString(sig))
	}
	r.answer(w, 200, map[string]any{"signatures": sigs})
}
