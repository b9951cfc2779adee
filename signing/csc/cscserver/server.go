package cscserver

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/motlan/motlan/keys"
	"github.com/motlan/motlan/signing"
	wire "github.com/motlan/motlan/signing/csc"
)

// Caller is who holds the access token.
type Caller struct {
	ClientID  string
	CitizenID string // empty for a client_credentials token
	Scopes    []string
}

// Auth is Motlan's OpenID provider as the CSC server uses it.
type Auth interface {
	// Caller authenticates the request's access token.
	Caller(r *http.Request) (Caller, error)
	// BrowserCitizen is the citizen logged in on this browser, the level and time of the
	// last eID login (the OTP page).
	BrowserCitizen(r *http.Request) (citizenID, acr string, authTime time.Time, ok bool)
	// StepUpURL logs the citizen in again at eID level 2, then comes back to returnPath.
	StepUpURL(returnPath, lang string) string
}

// Credentials gives a citizen's key and certificate in Motlan's vault (signing.Service).
type Credentials interface {
	LocalCredential(ctx context.Context, citizenID string) (signing.Credential, error)
}

// CitizenIDs finds the citizen a client_credentials caller names by userID (the store).
type CitizenIDs interface {
	CitizenIDByCCCD(ctx context.Context, cccd string) (string, error)
}

// Once records key as used until the given time; it returns an error wrapping ErrUsed
// when key is recorded already. It must hold across replicas (the store).
type Once func(ctx context.Context, key string, until time.Time) error

// ErrUsed is what Once wraps for a key used before.
var ErrUsed = errors.New("cscserver: already used")

// OnceFrom makes a Once of a store's single-use records (sqlstore's UseAssertion, under
// the namespace "csc"); used is the store's error for a record that exists.
func OnceFrom(use func(ctx context.Context, ns, key string, until time.Time) error, used error) Once {
	return func(ctx context.Context, key string, until time.Time) error {
		err := use(ctx, "csc", key, until)
		if errors.Is(err, used) {
			return fmt.Errorf("%w: %w", ErrUsed, err)
		}
		return err
	}
}

// AuditEvent is one authorisation (Signed false) or one signHash (Signed true).
type AuditEvent struct {
	Signed     bool
	CitizenID  string
	ClientID   string
	Credential string
	Hashes     []string // base64, as sent
}

// ScopeService is the scope a token needs (CSC's service authorisation).
const ScopeService = "service"

// Defaults.
const (
	DefaultMaxSignatures = 50
	DefaultFreshLogin    = 5 * time.Minute
	sadLife              = 5 * time.Minute
	authorizeLimit       = 30 // credentials/authorize calls per citizen per authorizeWindow
	authorizeWindow      = 10 * time.Minute
	otpWindow            = 5 * time.Minute
)

// Config configures New. Credentials, Auth, Once and a 32-byte Key are required.
type Config struct {
	Credentials Credentials
	Auth        Auth
	Once        Once
	// Throttle counts one credentials/authorize for key (a MAC of the citizen, so the
	// store holds no id) and says whether it is allowed: OTPs are 8 digits, and guessing
	// must stay hopeless. Nil: no limit (tests of other things only).
	Throttle func(ctx context.Context, key string, limit int, window time.Duration) (bool, error)
	// Audit records each SAD issued and each signHash (the hashes, never the OTP); nil:
	// none. Wired to the audit log (kinds signing.approve and signing.signed).
	Audit func(ctx context.Context, e AuditEvent)
	// Citizens lets a client's own token (client_credentials, scope "service") name the
	// citizen by userID = their CCCD; nil: only citizens' tokens are accepted.
	Citizens CitizenIDs
	// Key derives credential ids and OTPs and seals SADs; 32 bytes from the master key.
	Key []byte
	// Timestamp answers signatures/timestamp; nil leaves the method out.
	Timestamp     func(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error)
	Name          string // info name; default "Motlan"
	OAuth2        string // info oauth2: the issuer whose tokens are accepted
	MaxSignatures int    // per authorisation; default 50
	FreshLogin    time.Duration
	Now           func() time.Time
	Logger        *slog.Logger
}

// Server is the CSC API over Motlan's vault.
type Server struct {
	cfg    Config
	sealer *keys.Sealer
	log    *slog.Logger
}

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Credentials == nil || cfg.Auth == nil || cfg.Once == nil || len(cfg.Key) != 32 {
		return nil, errors.New("cscserver: Credentials, Auth, Once and a 32-byte Key are required")
	}
	sealer, err := keys.NewSealer(cfg.Key)
	if err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = "Motlan"
	}
	if cfg.MaxSignatures <= 0 {
		cfg.MaxSignatures = DefaultMaxSignatures
	}
	if cfg.FreshLogin <= 0 {
		cfg.FreshLogin = DefaultFreshLogin
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, sealer: sealer, log: cfg.Logger.With("component", "cscserver")}, nil
}

// Handler serves /csc/v2/... and the OTP page /csc/otp.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/csc/v2/info", s.handleInfo)
	for method, h := range map[string]func(http.ResponseWriter, *http.Request, Caller, []byte){
		wire.MethodList: s.handleList, wire.MethodCredInfo: s.handleCredInfo, wire.MethodChall: s.handleChallenge,
		wire.MethodAuthz: s.handleAuthorize, wire.MethodSignHash: s.handleSignHash, wire.MethodTS: s.handleTimestamp,
	} {
		mux.HandleFunc("/csc/v2/"+method, s.authed(h))
	}
	mux.HandleFunc("/csc/v2/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, wire.ErrInvalidRequest, "no such method")
	})
	mux.HandleFunc("GET /csc/otp", s.handleOTPPage)
	return mux
}

// maxBody bounds a request: 50 base64 hashes and their framing fit in a few KB.
const maxBody = 64 << 10

// authed checks the method, the body and the service token, then calls h.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, Caller, []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, wire.ErrInvalidRequest, "use POST")
			return
		}
		c, err := s.cfg.Auth.Caller(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="motlan-csc", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, wire.ErrInvalidToken, "a valid access token is required")
			return
		}
		if !slices.Contains(c.Scopes, ScopeService) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="motlan-csc", error="insufficient_scope", scope="service"`)
			writeError(w, http.StatusForbidden, wire.ErrInsufficient, `the token lacks the scope "service"`)
			return
		}
		if c.CitizenID == "" && s.cfg.Citizens == nil {
			writeError(w, http.StatusForbidden, wire.ErrAccessDenied, "the token must be a citizen's (authorization code flow)")
			return
		}
		body, err := readBody(w, r)
		if err != nil {
			writeError(w, http.StatusBadRequest, wire.ErrInvalidRequest, err.Error())
			return
		}
		h(w, r, c, body)
	}
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return nil, errors.New("Content-Type must be application/json")
	}
	var raw json.RawMessage
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(&raw); err != nil {
		return nil, errors.New("the body is not a JSON object")
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errors.New("the body is not a JSON object")
	}
	return raw, nil
}

// decode reads body into v, refusing v1 field names a v2 server must not take silently.
func decode(body []byte, v any) error {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		return errors.New("the body is not a JSON object")
	}
	for _, v1 := range []string{"hash", "hashAlgo"} {
		if _, ok := probe[v1]; ok {
			return fmt.Errorf("%q is a CSC v1 parameter; v2 uses hashes and hashAlgorithmOID", v1)
		}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("a parameter has the wrong type: %v", typeErr(err))
	}
	return nil
}

// decodeInto is decode answering 400 on failure.
func decodeInto(w http.ResponseWriter, body []byte, v any) bool {
	if err := decode(body, v); err != nil {
		writeError(w, http.StatusBadRequest, wire.ErrInvalidRequest, err.Error())
		return false
	}
	return true
}

func typeErr(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	return "body"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, wire.Error{Error: code, Description: desc})
}

// credentialID is the citizen's one credential id: stable, and it names the citizen with
// a MAC so a client's own token can use it after credentials/list.
func (s *Server) credentialID(citizenID string) string {
	return "motlan-" + citizenID + "." + s.credentialMAC(citizenID)
}

func (s *Server) credentialMAC(citizenID string) string {
	m := hmac.New(sha256.New, s.cfg.Key)
	m.Write([]byte("credential\x00" + citizenID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// credentialCitizen returns the citizen a credential id names, or "".
func (s *Server) credentialCitizen(id string) string {
	rest, ok := strings.CutPrefix(id, "motlan-")
	i := strings.LastIndexByte(rest, '.')
	if !ok || i <= 0 || !hmac.Equal([]byte(rest[i+1:]), []byte(s.credentialMAC(rest[:i]))) {
		return ""
	}
	return rest[:i]
}

// credential returns the credential id names and its citizen, if the caller may use it: a
// citizen's token only their own.
func (s *Server) credential(w http.ResponseWriter, r *http.Request, c Caller, id string) (signing.Credential, string, bool) {
	if id == "" {
		writeError(w, http.StatusBadRequest, wire.ErrInvalidRequest, "Missing (or invalid type) string parameter credentialID")
		return nil, "", false
	}
	cid := s.credentialCitizen(id)
	if cid == "" || (c.CitizenID != "" && cid != c.CitizenID) {
		writeError(w, http.StatusBadRequest, wire.ErrNotFoundCred, "Invalid parameter credentialID")
		return nil, "", false
	}
	cred, err := s.cfg.Credentials.LocalCredential(r.Context(), cid)
	if err != nil {
		s.log.ErrorContext(r.Context(), "citizen credential", "err", err)
		writeError(w, http.StatusInternalServerError, wire.ErrServer, "the credential is not available")
		return nil, "", false
	}
	return cred, cid, true
}
