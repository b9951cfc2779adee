package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/internal/ratelimit"
	"github.com/motlan/motlan/signing"
	"github.com/motlan/motlan/signing/ltv"
)

// Defaults and limits.
const (
	DefaultMaxUploadBytes = 50 << 20 // per document
	DefaultMaxDocuments   = 10
	DefaultFreshLogin     = 5 * time.Minute
	MaxWait               = 60 * time.Second // long-poll cap; longer waits are cut to this
	MaxTTL                = 24 * time.Hour
	defaultListLimit      = 50
	maxListLimit          = 100
)

// Config configures the API.
type Config struct {
	Service Service
	Auth    Auth
	// BaseURL is the issuer's URL (scheme, host, optional path) where Handler is served; the
	// approval URL is BaseURL + "/sign/{id}".
	BaseURL        string
	MaxUploadBytes int64 // per document; 0: 50 MB
	MaxDocuments   int   // per request; 0: 10
	// CSRFKey keys the approval form's CSRF token (HMAC). At least 32 random bytes, the same
	// on every replica and independent of other keys.
	CSRFKey []byte
	// ClientNames shows relying parties by name on the approval page (client id → name);
	// clients not in it show their id.
	ClientNames map[string]string
	// FreshLogin is how recent the citizen's level-2 eID login must be to see the approval
	// page; 0: 5 minutes. The form then stays valid for FormTTL.
	FreshLogin time.Duration
	FormTTL    time.Duration // 0: 15 minutes
	// TrustRoots are the CA roots POST /signing/v1/verify trusts; nil trusts none, so
	// every chain reports untrusted.
	TrustRoots *x509.CertPool
	// Extender serves POST /signing/v1/extend; nil answers it 503.
	Extender Extender
	// Revoker serves the admin API's revocation; nil answers it 503.
	Revoker Revoker
	Now     func() time.Time
	Logger  *slog.Logger
	// RateLimits limits approvals (per IP and citizen) and signing requests created (per
	// client and citizen); nil: no limits.
	RateLimits *ratelimit.Limiter
	// Audit records the admin API's acts (revocations); nil: none.
	Audit *audit.Logger
	// KeptUntil is when an ended request's PDFs are deleted (signing.Service.KeptUntil),
	// shown as documents_kept_until; nil: not shown.
	KeptUntil func(signing.Request) time.Time
	// ReturnOrigins are where each client's return_url may point; DevReturn also allows
	// http://localhost and loopback (development only).
	ReturnOrigins ReturnOrigins
	DevReturn     bool
	// Branding is the deployment's look on the approval pages; zero: the defaults.
	Branding Branding
	// Render draws page images for the approval page; nil: none (a sentence and the
	// PDF link instead).
	Render PageRenderer
	// AcceptUnboundLogin accepts any level-2 login of the last FreshLogin, not only one
	// made for the link (gate.go). Only tests of other behaviour set it; the server never.
	AcceptUnboundLogin bool
}

// API serves the signing API and the approval pages.
type API struct {
	svc       Service
	auth      Auth
	base      string
	maxDoc    int64
	maxDocs   int
	csrfKey   []byte
	names     map[string]string
	fresh     time.Duration
	formTTL   time.Duration
	now       func() time.Time
	log       *slog.Logger
	mux       *http.ServeMux
	routeList []route
	roots     *x509.CertPool
	ext       Extender
	revoker   Revoker
	limits    *ratelimit.Limiter
	audit     *audit.Logger
	keptUntil func(signing.Request) time.Time
	returns   ReturnOrigins
	devReturn bool
	brand     Branding
	render    PageRenderer
	unbound   bool
	jitter    func(int64) int64 // pollWait's random source; tests replace it
}

// New checks cfg and builds the API.
func New(cfg Config) (*API, error) {
	if cfg.Service == nil || cfg.Auth == nil {
		return nil, errors.New("httpapi: Service and Auth are required")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("httpapi: BaseURL must be an absolute http(s) URL without query")
	}
	if len(cfg.CSRFKey) < 32 {
		return nil, errors.New("httpapi: CSRFKey must hold at least 32 bytes")
	}
	if cfg.MaxUploadBytes < 0 || cfg.MaxDocuments < 0 || cfg.FreshLogin < 0 || cfg.FormTTL < 0 {
		return nil, errors.New("httpapi: limits must not be negative")
	}
	a := &API{
		svc: cfg.Service, auth: cfg.Auth, base: strings.TrimRight(cfg.BaseURL, "/"),
		maxDoc: cfg.MaxUploadBytes, maxDocs: cfg.MaxDocuments, csrfKey: slices.Clone(cfg.CSRFKey),
		names: cfg.ClientNames, fresh: cfg.FreshLogin, formTTL: cfg.FormTTL, now: cfg.Now, log: cfg.Logger,
		roots: cfg.TrustRoots, ext: cfg.Extender, revoker: cfg.Revoker, audit: cfg.Audit,
	}
	a.limits, a.keptUntil = cfg.RateLimits, cfg.KeptUntil
	a.returns, a.devReturn, a.brand, a.render = cfg.ReturnOrigins, cfg.DevReturn, cfg.Branding.withDefaults(), cfg.Render
	a.unbound = cfg.AcceptUnboundLogin
	a.jitter = defaultJitter
	if a.maxDoc == 0 {
		a.maxDoc = DefaultMaxUploadBytes
	}
	if a.maxDocs == 0 {
		a.maxDocs = DefaultMaxDocuments
	}
	if a.fresh == 0 {
		a.fresh = DefaultFreshLogin
	}
	if a.formTTL == 0 {
		a.formTTL = 15 * time.Minute
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.routeList = a.routes()
	a.mux = http.NewServeMux()
	for _, rt := range a.routeList {
		a.mux.HandleFunc(rt.method+" "+rt.pattern, rt.h)
	}
	// Anything else under the API prefix is a problem document, not the mux's text/plain.
	a.mux.HandleFunc("/signing/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, problem(http.StatusNotFound, ProblemNotFound, "Not found", "no such endpoint"))
	})
	a.mux.HandleFunc("/admin/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, problem(http.StatusNotFound, ProblemNotFound, "Not found", "no such endpoint"))
	})
	return a, nil
}

// Handler serves /signing/v1/..., /sign/... and /admin/v1/....
func (a *API) Handler() http.Handler { return a.mux }

type route struct {
	method, pattern string
	h               http.HandlerFunc
}

// routes is every endpoint; the OpenAPI document lists exactly these (a test checks).
func (a *API) routes() []route {
	return []route{
		{"POST", "/signing/v1/requests", a.api(a.handleCreate)},
		{"GET", "/signing/v1/requests", a.api(a.handleList)},
		{"GET", "/signing/v1/requests/{id}", a.api(a.handleGet)},
		{"POST", "/signing/v1/requests/{id}/cancel", a.api(a.handleCancel)},
		{"GET", "/signing/v1/requests/{id}/documents/{index}", a.api(a.handleSignedPDF)},
		{"GET", "/signing/v1/requests/{id}/qr.png", a.qrPNG},
		{"GET", "/signing/v1/requests/{id}/qr.svg", a.api(a.handleQRSVG)},
		{"GET", "/signing/v1/openapi.json", a.handleOpenAPI},
		{"POST", "/signing/v1/verify", a.api(a.handleVerify)},
		{"POST", "/signing/v1/extend", a.api(a.handleExtend)},
		{"POST", "/admin/v1/certificates/{serial}/revoke", a.admin(a.handleRevoke)},
		{"GET", "/sign/{id}", a.handleApprovalPage},
		{"POST", "/sign/{id}", a.handleApprovalPost},
		{"GET", "/sign/{id}/documents/{index}", a.handleOriginalPDF},
		{"GET", "/sign/{id}/documents/{index}/pages/{page}", a.handlePageImage},
	}
}

//go:embed openapi.json
var openAPI []byte

func (a *API) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(openAPI)
}

// apiHandler is an API endpoint: it runs after authentication and returns a problem or nil.
type apiHandler func(w http.ResponseWriter, r *http.Request, c Caller) error

// api authenticates the bearer token and checks its scope, then runs h; an error from h is
// written as a problem document.
func (a *API) api(h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, p := a.authenticate(r)
		if p != nil {
			writeProblem(w, p)
			return
		}
		if err := h(w, r, c); err != nil {
			a.fail(w, r, err)
		}
	}
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(err)
	if p.Status >= 500 {
		a.log.ErrorContext(r.Context(), "signing api", "method", r.Method, "route", r.Pattern, "err", err)
	}
	writeProblem(w, p)
}

const realm = `Bearer realm="motlan"`

func (a *API) authenticate(r *http.Request) (Caller, *Problem) {
	c, err := a.auth.APICaller(r)
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			return Caller{}, storeUnavailable()
		}
		p := problem(http.StatusUnauthorized, ProblemUnauthorized, "Unauthorized", "a valid bearer access token is required")
		if errors.Is(err, ErrNoToken) {
			p.challenge = realm + `, scope="` + ScopeSigning + `"`
		} else {
			p.challenge = realm + `, error="invalid_token", error_description="the access token is invalid or expired"`
		}
		return Caller{}, p
	}
	need := ScopeSigning
	if c.Subject != "" {
		need = ScopeSign
	}
	if c.ClientID == "" || !slices.Contains(c.Scopes, need) {
		p := problem(http.StatusForbidden, ProblemInsufficientScope, "Insufficient scope", "the token lacks the scope "+strconv.Quote(need))
		p.challenge = realm + `, error="insufficient_scope", scope="` + need + `"`
		return Caller{}, p
	}
	return c, nil
}

// citizen reports whether a citizen's own token calls (rather than the client itself).
func (c Caller) citizen() bool { return c.Subject != "" }

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// pathID is the {id} path value, or "" when it cannot be a request id.
func pathID(r *http.Request) string {
	id := r.PathValue("id")
	if !idPattern.MatchString(id) {
		return ""
	}
	return id
}

func pathIndex(r *http.Request) (int, bool) {
	s := r.PathValue("index")
	if s == "" || len(s) > 4 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	i, err := strconv.Atoi(s)
	return i, err == nil && i >= 0
}

// load reads the caller's request: the client's, and for a citizen token also theirs.
func (a *API) load(ctx context.Context, c Caller, id string) (signing.Request, error) {
	if id == "" {
		return signing.Request{}, notFound()
	}
	req, err := a.svc.Get(ctx, c.ClientID, id)
	if err != nil {
		return signing.Request{}, err
	}
	if !a.owns(c, req) {
		return signing.Request{}, notFound()
	}
	return req, nil
}

func (a *API) owns(c Caller, req signing.Request) bool {
	return req.ClientID == c.ClientID && (!c.citizen() || req.Subject == c.Subject)
}

// ---- JSON representation ----

type requestJSON struct {
	ID          string         `json:"id"`
	Status      signing.Status `json:"status"`
	Subject     string         `json:"subject"`
	Reason      string         `json:"reason,omitempty"`
	Location    string         `json:"location,omitempty"`
	Level       signing.Level  `json:"level"`
	CallbackURL string         `json:"callback_url,omitempty"`
	ReturnURL   string         `json:"return_url,omitempty"`
	// CancelReason is why the portal withdrew it, when it gave a reason ("superseded").
	CancelReason string `json:"cancel_reason,omitempty"`
	Failure      string `json:"failure,omitempty"`
	// FailureCode and FailureVI say, for a failed request, what the portal may show:
	// a stable code and a sentence for the citizen in Vietnamese.
	FailureCode string `json:"failure_code,omitempty"`
	FailureVI   string `json:"failure_vi,omitempty"`
	// BlockedUntil: the request is pending but its citizen is over the approval rate
	// limit and can approve from this time on.
	BlockedUntil time.Time `json:"blocked_until,omitzero"`
	// DocumentsKeptUntil: the request has ended; its PDFs are deleted after this time.
	DocumentsKeptUntil time.Time      `json:"documents_kept_until,omitzero"`
	CreatedAt          time.Time      `json:"created_at,omitzero"`
	UpdatedAt          time.Time      `json:"updated_at,omitzero"`
	ExpiresAt          time.Time      `json:"expires_at"`
	Version            int64          `json:"version"`
	ApprovalURL        string         `json:"approval_url"`
	QRPNGURL           string         `json:"qr_png_url"`
	QRSVGURL           string         `json:"qr_svg_url"`
	Documents          []documentJSON `json:"documents"`
}

type documentJSON struct {
	Index        int                `json:"index"`
	Title        string             `json:"title"`
	Pages        int                `json:"pages"`
	Size         int64              `json:"size,omitempty"`
	SHA256       string             `json:"sha256"`
	Placement    *signing.Placement `json:"placement,omitempty"`
	SignedAt     time.Time          `json:"signed_at,omitzero"`
	SignedSHA256 string             `json:"signed_sha256,omitempty"`
	DownloadURL  string             `json:"download_url,omitempty"`
	EvidenceGaps []ltv.Gap          `json:"evidence_gaps,omitempty"`
}

func (a *API) approvalURL(id string) string { return a.base + "/sign/" + id }

func (a *API) toJSON(r signing.Request) requestJSON {
	self := a.base + "/signing/v1/requests/" + r.ID
	out := requestJSON{
		ID: r.ID, Status: r.Status, Subject: r.Subject, Reason: r.Reason, Location: r.Location,
		Level: r.Level, CallbackURL: r.CallbackURL, ReturnURL: r.ReturnURL, CancelReason: r.CancelReason, Failure: r.Failure,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), Version: r.Version,
		ApprovalURL: a.approvalURL(r.ID), QRPNGURL: a.signedQRURL(r.ID, r.ExpiresAt), QRSVGURL: self + "/qr.svg",
		Documents: make([]documentJSON, 0, len(r.Documents)),
	}
	if out.Level == "" {
		out.Level = signing.LevelBT
	}
	if r.Status == signing.StatusPending && r.BlockedUntil.After(a.now()) {
		out.BlockedUntil = r.BlockedUntil.UTC()
	}
	if a.keptUntil != nil {
		if t := a.keptUntil(r); !t.IsZero() {
			out.DocumentsKeptUntil = t.UTC()
		}
	}
	if r.Status == signing.StatusFailed {
		f := signing.DescribeFailure(r.Failure)
		out.FailureCode, out.FailureVI = f.Code, f.Vietnamese
	}
	for i, d := range r.Documents {
		dj := documentJSON{
			Index: i, Title: d.Title, Pages: d.Pages, Size: d.Size, SHA256: d.SHA256, Placement: d.Placement,
			SignedAt: d.SignedAt.UTC(), SignedSHA256: d.SignedSHA, EvidenceGaps: d.EvidenceGaps,
		}
		if r.Status == signing.StatusSigned {
			dj.DownloadURL = self + "/documents/" + strconv.Itoa(i)
		}
		out.Documents = append(out.Documents, dj)
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// ---- read, list, cancel ----

func (a *API) handleGet(w http.ResponseWriter, r *http.Request, c Caller) error {
	id := pathID(r)
	q := r.URL.Query()
	wait, p := parseWait(q.Get("wait"))
	if p != nil {
		return p
	}
	if wait <= 0 || id == "" {
		req, err := a.load(r.Context(), c, id)
		if err != nil {
			return err
		}
		return a.answerGet(w, req)
	}
	// A long-poll: Wait's first read is the only one before a change (a phone's re-poll
	// costs one read of the request), and waits from that version unless since says.
	since := int64(-1)
	if s := q.Get("since"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			return badField("since", "since must be a version number (a non-negative integer)")
		}
		since = v
	}
	// Unchanged long-polls end at a random point near the end of the wait, so that
	// phones that began together do not keep re-polling together (longpoll.go).
	wait = pollWait(wait, a.jitter)
	// Outlive a server-wide WriteTimeout shorter than the wait, where supported.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(wait + 10*time.Second))
	req, err := a.svc.Wait(r.Context(), c.ClientID, id, since, wait)
	if err != nil {
		if r.Context().Err() != nil {
			return nil // the caller left
		}
		return err
	}
	if !a.owns(c, req) {
		return notFound()
	}
	return a.answerGet(w, req)
}

func (a *API) answerGet(w http.ResponseWriter, req signing.Request) error {
	w.Header().Set("ETag", `"`+strconv.FormatInt(req.Version, 10)+`"`)
	writeJSON(w, http.StatusOK, a.toJSON(req))
	return nil
}

// parseWait reads ?wait=: a Go duration ("30s") or whole seconds ("30"); capped at MaxWait.
func parseWait(s string) (time.Duration, *Problem) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		n, err2 := strconv.Atoi(s)
		if err2 != nil {
			return 0, badField("wait", "wait must be a duration such as 30s")
		}
		d = time.Duration(n) * time.Second
	}
	if d < 0 {
		return 0, badField("wait", "wait must not be negative")
	}
	return min(d, MaxWait), nil
}

func (a *API) handleList(w http.ResponseWriter, r *http.Request, c Caller) error {
	q := r.URL.Query()
	subject := q.Get("subject")
	if c.citizen() {
		if subject != "" && subject != c.Subject {
			return problem(http.StatusForbidden, ProblemForbidden, "Forbidden", "a citizen token lists only its own requests")
		}
		subject = c.Subject
	}
	if subject == "" {
		return badField("subject", "subject is required")
	}
	limit := defaultListLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return badField("limit", "limit must be a positive integer")
		}
		limit = min(n, maxListLimit)
	}
	reqs, err := a.svc.List(r.Context(), c.ClientID, subject, limit)
	if err != nil {
		return err
	}
	out := struct {
		Requests []requestJSON `json:"requests"`
	}{Requests: make([]requestJSON, 0, len(reqs))}
	for _, req := range reqs {
		if a.owns(c, req) {
			out.Requests = append(out.Requests, a.toJSON(req))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) handleCancel(w http.ResponseWriter, r *http.Request, c Caller) error {
	id := pathID(r)
	if c.citizen() { // the service checks the client; the subject is ours to check
		if _, err := a.load(r.Context(), c, id); err != nil {
			return err
		}
	} else if id == "" {
		return notFound()
	}
	reason, err := cancelReason(r)
	if err != nil {
		return badField("reason", `the body must be empty or JSON: {"reason":"superseded"}`)
	}
	req, err := a.svc.Cancel(r.Context(), c.ClientID, id, reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.toJSON(req))
	return nil
}

// ---- downloads ----

func (a *API) handleSignedPDF(w http.ResponseWriter, r *http.Request, c Caller) error {
	req, err := a.load(r.Context(), c, pathID(r))
	if err != nil {
		return err
	}
	i, ok := pathIndex(r)
	if !ok || i >= len(req.Documents) {
		return problem(http.StatusNotFound, ProblemNotFound, "Not found", "no such document in this request")
	}
	if req.Status != signing.StatusSigned {
		return problem(http.StatusConflict, ProblemNotSigned, "Not signed yet", "signed documents are served once the whole request is signed; status is "+string(req.Status))
	}
	pdf, err := a.svc.SignedPDF(r.Context(), c.ClientID, req.ID, i)
	if err != nil {
		return err
	}
	writePDF(w, pdf, req.Documents[i].Title, i, "attachment")
	return nil
}

// writePDF sends a PDF with its digest (RFC 9530) and a UTF-8 file name from its title.
func writePDF(w http.ResponseWriter, pdf []byte, title string, index int, disposition string) {
	sum := sha256.Sum256(pdf)
	h := w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Length", strconv.Itoa(len(pdf)))
	h.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	name := fileName(title, index)
	cd := mime.FormatMediaType(disposition, map[string]string{"filename": name})
	if cd == "" {
		cd = fmt.Sprintf(`%s; filename="document-%d.pdf"`, disposition, index+1)
	}
	h.Set("Content-Disposition", cd)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(pdf)
}

// fileName makes a download name from a document title.
func fileName(title string, index int) string {
	var b strings.Builder
	for _, c := range title {
		switch {
		case c < 0x20 || c == 0x7f || strings.ContainsRune(`/\"*?:<>|`, c):
			b.WriteByte('_')
		default:
			b.WriteRune(c)
		}
	}
	name := strings.TrimSpace(b.String())
	if name == "" {
		name = fmt.Sprintf("document-%d", index+1)
	}
	if len(name) > 150 {
		name = strings.ToValidUTF8(name[:150], "")
	}
	return name + ".pdf"
}
