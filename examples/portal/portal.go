// Package portal is a minimal relying party of Motlan, written the way a portal team
// would write one: it knows nothing of Motlan's code, only OpenID Connect and Motlan's
// public signing API (README "Remote signing"). It uses github.com/coreos/go-oidc,
// golang.org/x/oauth2, github.com/go-pdf/fpdf for the declaration forms,
// github.com/skip2/go-qrcode for the approval link's QR code, and the standard library.
//
// Routes: GET / (home: the bundles on offer), GET /login[?goi=bundle] (start the login),
// GET <RedirectURL path> (the OIDC callback), GET and POST /ho-so/{bundle} (a bundle's form,
// pre-filled with verified claims; /ho-so is the first bundle; POST saves the draft and,
// when it passes, leads to the preview), GET /ho-so/{bundle}/xem-truoc[/{i}] (each PDF
// before signing), POST /ho-so/{bundle}/ky-so ("Ký số": one signing request per dossier at
// Motlan; GET is the return_url the phone comes back to), GET /ky-so/{id} (the signing
// page: QR code or "Mở trên điện thoại này", then the receipt), its JSON status
// (long-polled), QR PNG and signed-document downloads, GET /ho-so-cua-toi[/{number}[/tai-lieu/{i}]]
// (the citizen's dossiers, a receipt, its signed PDFs), POST /logout. Every page is
// Vietnamese first; ?lang=en switches to English and the choice is remembered in a cookie.
//
// The login transaction (state, nonce, PKCE verifier) and the session (the claims shown on
// the form) live in cookies sealed with AES-256-GCM under a random per-process key,
// HttpOnly and SameSite=Lax. Drafts and dossiers live in memory (store.go), keyed by the
// citizen's subject: an example app's storage. Signing requests live at Motlan, and the
// portal shows one only to the citizen whose subject it carries.
package portal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// DefaultScopes are requested when Config.Scopes is empty.
var DefaultScopes = []string{oidc.ScopeOpenID, "profile", "address", "phone", "cccd"}

const (
	txCookie      = "portal_tx"
	sessionCookie = "portal_session"
	langCookie    = "portal_lang"

	txTTL            = 10 * time.Minute
	sessionTTL       = time.Hour
	discoveryTimeout = 10 * time.Second
	maxFormBytes     = 64 << 10
)

// Config configures a Portal.
type Config struct {
	// Issuer is the OpenID provider's issuer URL (Motlan's), exactly as in its discovery
	// document.
	Issuer string
	// ClientID and ClientSecret are the portal's client credentials at the provider.
	ClientID     string
	ClientSecret string
	// RedirectURL is the callback registered at the provider, e.g.
	// http://localhost:8082/callback. Its path is served as the callback route; an
	// https RedirectURL makes the cookies Secure (with the __Host- prefix).
	RedirectURL string
	// Scopes requested; default DefaultScopes. "openid" is added when missing.
	Scopes []string
	// ACR is the eID level the portal requires, sent as acr_values and checked in the ID
	// token. Default "2": declaring for a child needs a level-2 account. "-" asks none.
	ACR string
	// HTTPClient for discovery, JWKS, token and userinfo calls. Default: a client with a
	// 15 s timeout.
	HTTPClient *http.Client
	// Logger; default: discard. Nothing personal is logged.
	Logger *slog.Logger
	// SigningURL is the base URL of Motlan's signing API; default Issuer. The portal calls
	// it with a client_credentials token of scope SigningScope.
	SigningURL string
	// SigningScope; default "signing".
	SigningScope string
	// Now is the clock (the forms' date, the age checks); default time.Now.
	Now func() time.Time
}

// Portal is the relying party's web application; it is an http.Handler.
type Portal struct {
	cfg          Config
	callbackPath string
	seal         *sealer
	log          *slog.Logger
	mux          *http.ServeMux

	op          atomic.Pointer[provider] // nil until discovery succeeds
	discoveryMu sync.Mutex
	reports     reportCache
	store       *dossierStore
}

// provider is what discovery yields.
type provider struct {
	oidc     *oidc.Provider
	verifier *oidc.IDTokenVerifier
	oauth    oauth2.Config
	issParam bool   // authorization_response_iss_parameter_supported (RFC 9207)
	endSess  string // end_session_endpoint (RP-initiated logout), may be empty
	sign     *signAPI
}

// transaction is the sealed content of the login cookie.
type transaction struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Bundle   string `json:"b,omitempty"` // the bundle to open after the login
}

// session is the sealed content of the session cookie.
type session struct {
	Citizen citizen `json:"c"`
	CSRF    string  `json:"x"`
	IDToken string  `json:"t,omitempty"` // id_token_hint for logout at the provider
}

// citizen is the verified data the portal shows.
type citizen struct {
	Sub       string `json:"sub"`
	Name      string `json:"name,omitempty"`
	Birthdate string `json:"birthdate,omitempty"`
	Gender    string `json:"gender,omitempty"`
	CCCD      string `json:"cccd,omitempty"`
	Address   string `json:"address,omitempty"`
	Phone     string `json:"phone,omitempty"`
	// Nationality as the eID states it (profile scope).
	Nationality string `json:"nat,omitempty"`
	ACR         string `json:"acr,omitempty"`
	// Verified: claim -> the eID level that verified it, from verified_claims.
	Verified map[string]string `json:"v,omitempty"`
}

// New returns a Portal. Discovery is tried now; if the provider is not reachable yet, New
// still succeeds and discovery is retried on the next request that needs it.
func New(ctx context.Context, cfg Config) (*Portal, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.RedirectURL == "" {
		return nil, errors.New("portal: Issuer, ClientID and RedirectURL are required")
	}
	ru, err := url.Parse(cfg.RedirectURL)
	if err != nil || !ru.IsAbs() || ru.Host == "" || ru.Fragment != "" {
		return nil, errors.New("portal: RedirectURL must be an absolute URL without fragment")
	}
	cb := ru.Path
	if cb == "" || cb == "/" || cb == "/login" || cb == "/logout" || strings.HasPrefix(cb, "/ho-so") ||
		strings.HasPrefix(cb, "/ho-so/") || strings.HasPrefix(cb, "/ky-so/") {
		return nil, fmt.Errorf("portal: RedirectURL path %q collides with a page; use e.g. /callback", cb)
	}
	if cfg.ACR == "" {
		cfg.ACR = "2"
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = DefaultScopes
	}
	cfg.Scopes = slices.Clone(cfg.Scopes)
	if !slices.Contains(cfg.Scopes, oidc.ScopeOpenID) {
		cfg.Scopes = append([]string{oidc.ScopeOpenID}, cfg.Scopes...)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SigningURL == "" {
		cfg.SigningURL = cfg.Issuer
	}
	cfg.SigningURL = strings.TrimSuffix(cfg.SigningURL, "/")
	if cfg.SigningScope == "" {
		cfg.SigningScope = "signing"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	seal, err := newSealer(ru.Scheme == "https")
	if err != nil {
		return nil, err
	}
	p := &Portal{cfg: cfg, callbackPath: cb, seal: seal, log: cfg.Logger, mux: http.NewServeMux(), store: newDossierStore()}
	p.mux.HandleFunc("GET /{$}", p.home)
	p.mux.HandleFunc("GET /login", p.login)
	p.mux.HandleFunc("GET /ho-so", p.dossier)
	p.mux.HandleFunc("POST /ho-so", p.saveDossier)
	p.mux.HandleFunc("GET /ho-so/{bundle}", p.dossier)
	p.mux.HandleFunc("POST /ho-so/{bundle}", p.saveDossier)
	p.mux.HandleFunc("GET /ho-so/{bundle}/xem-truoc", p.preview)
	p.mux.HandleFunc("GET /ho-so/{bundle}/xem-truoc/{index}", p.previewPDF)
	p.mux.HandleFunc("POST /ho-so/{bundle}/ky-so", p.signDossier)
	p.mux.HandleFunc("GET /ho-so/{bundle}/ky-so", p.currentRequest)
	p.mux.HandleFunc("GET /ho-so-cua-toi", p.myDossiers)
	p.mux.HandleFunc("GET /ho-so-cua-toi/{number}", p.receipt)
	p.mux.HandleFunc("GET /ho-so-cua-toi/{number}/tai-lieu/{index}", p.receiptDocument)
	p.mux.HandleFunc("GET /ky-so/{id}", p.signPage)
	p.mux.HandleFunc("GET /ky-so/{id}/trang-thai", p.signStatus)
	p.mux.HandleFunc("GET /ky-so/{id}/qr.png", p.signQR)
	p.mux.HandleFunc("GET /ky-so/{id}/tai-lieu/{index}", p.signedDocument)
	p.mux.HandleFunc("POST /logout", p.logout)
	// Browsers ask for /favicon.ico on every page; answer "no icon" instead of a 404.
	p.mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.WriteHeader(http.StatusNoContent)
	})
	if _, err := p.provider(ctx); err != nil {
		p.log.Warn("portal: provider not reachable yet; discovery will be retried on the next login", "issuer", cfg.Issuer, "err", err)
	}
	return p, nil
}

// provider returns the discovered provider, discovering it first when needed.
func (p *Portal) provider(ctx context.Context) (*provider, error) {
	if op := p.op.Load(); op != nil {
		return op, nil
	}
	p.discoveryMu.Lock()
	defer p.discoveryMu.Unlock()
	if op := p.op.Load(); op != nil {
		return op, nil
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, p.cfg.HTTPClient), discoveryTimeout)
	defer cancel()
	o, err := oidc.NewProvider(ctx, p.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	var meta struct {
		IssParam    bool     `json:"authorization_response_iss_parameter_supported"`
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
		EndSession  string   `json:"end_session_endpoint"`
	}
	if err := o.Claims(&meta); err != nil {
		return nil, err
	}
	ep := o.Endpoint()
	switch {
	case slices.Contains(meta.AuthMethods, "client_secret_basic"):
		ep.AuthStyle = oauth2.AuthStyleInHeader
	case slices.Contains(meta.AuthMethods, "client_secret_post"):
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	op := &provider{
		oidc:     o,
		verifier: o.Verifier(&oidc.Config{ClientID: p.cfg.ClientID}),
		oauth: oauth2.Config{
			ClientID:     p.cfg.ClientID,
			ClientSecret: p.cfg.ClientSecret,
			Endpoint:     ep,
			RedirectURL:  p.cfg.RedirectURL,
			Scopes:       p.cfg.Scopes,
		},
		issParam: meta.IssParam,
		endSess:  meta.EndSession,
	}
	// The signing API takes the portal's own token (client_credentials), not the
	// citizen's: the citizen approves on the phone, at Motlan.
	cc := clientcredentials.Config{
		ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret, TokenURL: ep.TokenURL,
		Scopes: []string{p.cfg.SigningScope}, AuthStyle: ep.AuthStyle,
	}
	// The token source outlives this request: its context only carries the HTTP client.
	tokCtx := context.WithValue(context.Background(), oauth2.HTTPClient, p.cfg.HTTPClient)
	op.sign = &signAPI{base: p.cfg.SigningURL, http: &http.Client{Transport: &oauth2.Transport{
		Source: cc.TokenSource(tokCtx), Base: p.cfg.HTTPClient.Transport,
	}}}
	p.op.Store(op)
	p.log.Info("portal: provider discovered", "issuer", p.cfg.Issuer)
	return op, nil
}

type nonceKey struct{}

// ServeHTTP sets the security headers every response carries and routes the request.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	nonce := randomToken(18)
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+nonce+"'; script-src 'nonce-"+nonce+"'; "+
		"img-src 'self'; connect-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer") // the callback URL carries the code
	h.Set("Cache-Control", "no-store")      // pages carry personal data
	if p.seal.secure {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	r = r.WithContext(context.WithValue(r.Context(), nonceKey{}, nonce))
	if r.URL.Path == p.callbackPath {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		p.callback(w, r)
		return
	}
	p.mux.ServeHTTP(w, r)
}

// bundleCard is a bundle on the home page.
type bundleCard struct{ ID, Name, Intro, Open string }

func (p *Portal) home(w http.ResponseWriter, r *http.Request) {
	lang := p.lang(w, r)
	sess, err := getSealed[session](p.seal, r, sessionCookie)
	v := struct {
		LoggedIn bool
		Name     string
		CSRF     string
		Bundles  []bundleCard
	}{LoggedIn: err == nil, Name: sess.Citizen.Name, CSRF: sess.CSRF}
	t := messages[lang]
	for i, b := range bundles {
		open := "/ho-so/" + b.ID
		if i == 0 {
			open = "/ho-so"
		}
		if !v.LoggedIn {
			open = "/login?goi=" + b.ID
		}
		v.Bundles = append(v.Bundles, bundleCard{ID: b.ID, Name: t[b.NameKey], Intro: t[b.IntroKey], Open: open})
	}
	p.render(w, r, lang, http.StatusOK, "home", "", v)
}

type field struct {
	ID, Label, Value string
	Multiline        bool
	Verified         bool   // verified_claims says the eID verified it ...
	Level            string // ... at this level ("" when it did not say)
}

// inputView is one field the citizen types, as the form shows it.
type inputView struct {
	ID, Name, Label, Kind, Value, Error string
	Max                                 int
	Optional                            bool
	Options                             []option
}

type option struct {
	Value, Label string
	Selected     bool
}

type dossierView struct {
	Fields  []field
	ACR     string
	CSRF    string
	Bundle  string // its id
	Title   string
	Section string
	Intro   string
	Action  string
	Inputs  []inputView
	Errors  []inputView // the fields in error, for the summary above the form
}

// bundleOfPath is the bundle a /ho-so URL names; /ho-so alone is the first.
// loggedIn returns the citizen's portal session, or sends the browser home.
func (p *Portal) loggedIn(w http.ResponseWriter, r *http.Request) (session, bool) {
	sess, err := getSealed[session](p.seal, r, sessionCookie)
	if err != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return session{}, false
	}
	return sess, true
}

func bundleOfPath(r *http.Request) *bundle {
	if id := r.PathValue("bundle"); id != "" {
		return bundleByID(id)
	}
	return bundles[0]
}

func (p *Portal) dossier(w http.ResponseWriter, r *http.Request) {
	lang := p.lang(w, r)
	sess, ok := p.loggedIn(w, r)
	if !ok {
		return
	}
	b := bundleOfPath(r)
	if b == nil {
		http.NotFound(w, r)
		return
	}
	v := p.dossierView(lang, sess, b, p.store.draft(sess.Citizen.Sub, b.ID), nil)
	p.render(w, r, lang, http.StatusOK, "dossier", v.Title, v)
}

// saveDossier checks the typed fields; when they are right it starts the signing ("Ký
// số"), otherwise it shows the form again with what was typed and what is wrong.
func (p *Portal) saveDossier(w http.ResponseWriter, r *http.Request) {
	lang := p.lang(w, r)
	sess, ok := p.loggedIn(w, r)
	if !ok {
		return
	}
	b := bundleOfPath(r)
	if b == nil {
		http.NotFound(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil || !equal(r.PostForm.Get("csrf"), sess.CSRF) {
		p.fail(w, r, lang, http.StatusForbidden, "csrf", "")
		return
	}
	vals, errs := b.parse(r.PostForm, p.cfg.Now())
	// The draft keeps what was typed, right or not: back and retry show it again.
	p.store.saveDraft(sess.Citizen.Sub, b.ID, vals)
	if len(errs) > 0 {
		v := p.dossierView(lang, sess, b, vals, errs)
		p.render(w, r, lang, http.StatusUnprocessableEntity, "dossier", v.Title, v)
		return
	}
	http.Redirect(w, r, "/ho-so/"+b.ID+"/xem-truoc", http.StatusSeeOther)
}

func (p *Portal) dossierView(lang string, sess session, b *bundle, vals values, errs []fieldError) dossierView {
	t, c := messages[lang], sess.Citizen
	acr := t["acr_unknown"]
	if c.ACR != "" {
		acr = c.ACR // the label already says "level": "Mức độ xác thực: 2"
	}
	v := dossierView{
		Fields: []field{
			{ID: "name", Label: t["f_name"], Value: c.Name},
			{ID: "birthdate", Label: t["f_birthdate"], Value: formatDate(c.Birthdate)},
			{ID: "gender", Label: t["f_gender"], Value: genderText(t, c.Gender)},
			{ID: "cccd", Label: t["f_cccd"], Value: c.CCCD},
			{ID: "address", Label: t["f_address"], Value: c.Address, Multiline: true},
			{ID: "phone", Label: t["f_phone"], Value: c.Phone},
			{ID: "nationality", Label: t["f_nationality"], Value: c.Nationality},
		},
		ACR:     acr,
		CSRF:    sess.CSRF,
		Bundle:  b.ID,
		Title:   t[b.NameKey],
		Section: t[b.Section],
		Intro:   t[b.IntroKey],
		Action:  "/ho-so/" + b.ID,
	}
	for i := range v.Fields {
		f := &v.Fields[i]
		f.Level, f.Verified = c.Verified[shownClaims[f.ID]]
	}
	for _, fd := range b.Fields {
		in := inputView{ID: strings.ReplaceAll(fd.Name, "_", "-"), Name: fd.Name, Label: t[fd.LabelKey],
			Kind: fd.Kind, Value: vals[fd.Name], Max: fd.Max, Optional: fd.Optional}
		if fd.Kind == "date" {
			in.Value = formatDate(in.Value) // shown as dd/mm/yyyy, whatever the browser's language
		}
		if in.Max == 0 {
			in.Max = 100
		}
		for _, e := range errs {
			if e.Field == fd.Name {
				in.Error = t[e.Key]
			}
		}
		for _, o := range fd.Options {
			label := o
			if !fd.Literal {
				label = t["opt_"+o]
			}
			in.Options = append(in.Options, option{Value: o, Label: label, Selected: o == vals[fd.Name]})
		}
		v.Inputs = append(v.Inputs, in)
		if in.Error != "" {
			v.Errors = append(v.Errors, in)
		}
	}
	return v
}

// lang picks the page language: ?lang= (remembered in a cookie), the cookie, or "vi".
func (p *Portal) lang(w http.ResponseWriter, r *http.Request) string {
	name := p.seal.name(langCookie)
	if l := r.URL.Query().Get("lang"); l == "vi" || l == "en" {
		http.SetCookie(w, &http.Cookie{Name: name, Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, Secure: p.seal.secure, SameSite: http.SameSiteLaxMode})
		return l
	}
	if c, err := r.Cookie(name); err == nil && (c.Value == "vi" || c.Value == "en") {
		return c.Value
	}
	return "vi"
}

// fail renders the error page for kind (a key in messages: "err_"+kind). code refines
// it: "err_"+kind+"_"+code, when that message exists, is shown instead (e.g.
// access_denied because of acr). The page shows an error code only for failures the
// citizen cannot fix alone (a code to quote to the help desk), never for the ones whose
// message says what to do (an expired login, a cancelled one, a stale form).
func (p *Portal) fail(w http.ResponseWriter, r *http.Request, lang string, status int, kind, code string) {
	t := messages[lang]
	key := "err_" + kind
	if code != "" && t[key+"_"+code] != "" {
		key += "_" + code
	}
	title := t[key+"_title"]
	if title == "" {
		title = t["err_"+kind+"_title"]
	}
	if title == "" {
		title = t["err_title"]
	}
	if code == "" {
		code = kind
	}
	switch kind {
	case "state", "access_denied", "csrf":
		code = ""
	}
	msg := strings.ReplaceAll(t[key], "{acr}", p.cfg.ACR)
	// A failed login offers to log in again; a failed signing does not need it.
	v := struct {
		Kind, Code, Title, Message string
		Retry                      bool
	}{kind, code, title, msg, !strings.HasPrefix(kind, "sign_")}
	p.render(w, r, lang, status, "error", title, v)
}

// page is what every template gets.
type page struct {
	Lang, Nonce, Title     string
	SwitchURL, SwitchLabel string
	SwitchLang             string
	MyDataURL              string // the citizen's own page at Motlan
	T                      map[string]string
	V                      any
}

func (p *Portal) render(w http.ResponseWriter, r *http.Request, lang string, status int, name, title string, v any) {
	other := "en"
	if lang == "en" {
		other = "vi"
	}
	// The switch reloads the same page where it is one a GET shows again.
	path := r.URL.Path
	if path != "/ho-so" && !strings.HasPrefix(path, "/ho-so/") && !strings.HasPrefix(path, "/ky-so/") && !strings.HasPrefix(path, "/ho-so-cua-toi") {
		path = "/"
	}
	nonce, _ := r.Context().Value(nonceKey{}).(string)
	pg := page{
		Lang: lang, Nonce: nonce, Title: title,
		SwitchURL: path + "?lang=" + other, SwitchLabel: messages[other]["lang_name"], SwitchLang: other,
		T: messages[lang], V: v, MyDataURL: strings.TrimSuffix(p.cfg.Issuer, "/") + "/me?lang=" + lang,
	}
	var buf bytes.Buffer
	if err := templates[name].ExecuteTemplate(&buf, "base", pg); err != nil {
		p.log.Error("portal: rendering", "page", name, "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

var templates = func() map[string]*template.Template {
	base := template.Must(template.New("base").Funcs(template.FuncMap{
		"pair": func(pg page, d signedDoc) docOnPage { return docOnPage{T: pg.T, D: d} },
	}).Parse(baseHTML + signedDocHTML))
	m := map[string]*template.Template{}
	for name, src := range map[string]string{"home": homeHTML, "dossier": dossierHTML, "error": errorHTML, "sign": signHTML,
		"preview": previewHTML, "receipt": receiptHTML, "mine": mineHTML} {
		m[name] = template.Must(template.Must(base.Clone()).Parse(src))
	}
	return m
}()

func (p *Portal) now() time.Time { return p.cfg.Now() }
