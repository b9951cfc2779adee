package vneid_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/motlan/motlan/adapters/vneid"
	"github.com/motlan/motlan/adapters/vneid/sim"
	"github.com/motlan/motlan/idp/eid"
)

const (
	clientID     = "motlan-broker"
	clientSecret = "broker-secret"
	redirectURL  = "https://broker.example/eid/callback"
)

// startSim runs the dev eID over loopback.
func startSim(t *testing.T) (*httptest.Server, *sim.Provider) {
	return startSimWith(t, nil)
}

// startSimWith starts the dev eID with change applied to its Config.
func startSimWith(t *testing.T, change func(*sim.Config)) (*httptest.Server, *sim.Provider) {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	cfg := sim.Config{
		Issuer:  srv.URL + "/vneid",
		Clients: []sim.Client{{ID: clientID, Secret: clientSecret, RedirectURIs: []string{redirectURL}}},
	}
	if change != nil {
		change(&cfg)
	}
	p, err := sim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = p
	return srv, p
}

func newConnector(t *testing.T, issuer string, change func(*vneid.Config)) *vneid.Connector {
	t.Helper()
	cfg := vneid.Config{Issuer: issuer, ClientID: clientID, ClientSecret: clientSecret, RedirectURL: redirectURL, Timeout: 2 * time.Second}
	if change != nil {
		change(&cfg)
	}
	c, err := vneid.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type login struct {
	state, nonce, verifier string
}

func newLogin() login {
	return login{state: oauth2.GenerateVerifier()[:16], nonce: oauth2.GenerateVerifier()[:20], verifier: oauth2.GenerateVerifier()}
}

// simLogin logs number in at the sim through c and returns the callback query.
func simLogin(t *testing.T, c *vneid.Connector, l login, number string, opts eid.AuthOptions) url.Values {
	t.Helper()
	u, err := c.AuthCodeURL(context.Background(), l.state, l.nonce, l.verifier, opts)
	if err != nil {
		t.Fatalf("AuthCodeURL: %v", err)
	}
	if u == "" {
		t.Fatal("AuthCodeURL returned empty")
	}
	jar, _ := cookiejar.New(nil)
	cb, err := sim.Login(context.Background(), &http.Client{Jar: jar}, u, number, sim.DevPassword)
	if err != nil {
		t.Fatalf("sim.Login: %v", err)
	}
	if !strings.HasPrefix(cb.String(), redirectURL+"?") || cb.Query().Get("state") != l.state {
		t.Fatalf("callback %s", cb.Redacted())
	}
	if err := c.CheckCallback(cb.Query()); err != nil {
		t.Fatalf("CheckCallback: %v", err)
	}
	return cb.Query()
}

func TestAuthCodeURL(t *testing.T) {
	srv, _ := startSim(t)
	c := newConnector(t, srv.URL+"/vneid", nil)
	tests := []struct {
		name   string
		opts   eid.AuthOptions
		want   map[string]string
		absent []string
	}{
		{"level 2, forced, hints", eid.AuthOptions{ACR: "2", ForceLogin: true, MaxAge: 300, LoginHint: "038085001234", UILocales: []string{"vi", "en"}},
			map[string]string{"acr_values": "2", "prompt": "login", "max_age": "300", "login_hint": "038085001234", "ui_locales": "vi en"}, nil},
		{"defaults", eid.AuthOptions{MaxAge: -1}, map[string]string{}, []string{"acr_values", "prompt", "max_age", "login_hint", "ui_locales"}},
		{"max_age 0 is sent", eid.AuthOptions{MaxAge: 0}, map[string]string{"max_age": "0"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLogin()
			raw, err := c.AuthCodeURL(context.Background(), l.state, l.nonce, l.verifier, tt.opts)
			if err != nil {
				t.Fatalf("AuthCodeURL: %v", err)
			}
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			base := map[string]string{"response_type": "code", "client_id": clientID, "redirect_uri": redirectURL,
				"scope": "openid profile", "state": l.state, "nonce": l.nonce, "code_challenge_method": "S256",
				"code_challenge": oauth2.S256ChallengeFromVerifier(l.verifier)}
			for k, v := range tt.want {
				base[k] = v
			}
			for k, v := range base {
				if q.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, q.Get(k), v)
				}
			}
			for _, k := range tt.absent {
				if q.Has(k) {
					t.Errorf("%s present", k)
				}
			}
			if q.Has("code_verifier") {
				t.Error("verifier leaked into the URL")
			}
		})
	}
}

func TestExchangeMapsEveryAttribute(t *testing.T) {
	srv, p := startSim(t)
	c := newConnector(t, srv.URL+"/vneid", nil)
	want := map[string]string{
		"cccd":            `"038085001234"`,
		"name":            `"Nguyễn Văn Lĩnh"`,
		"family_name":     `"Nguyễn"`,
		"middle_name":     `"Văn"`,
		"given_name":      `"Lĩnh"`,
		"birthdate":       `"1985-03-14"`,
		"gender":          `"male"`,
		"nationality":     `"Việt Nam"`,
		"place_of_origin": `"Xã Hoằng Hóa, Tỉnh Thanh Hóa"`,
		"address":         `{"formatted":"Số 12 đường Lê Lợi, Phường Hạc Thành, Tỉnh Thanh Hóa","street_address":"Số 12 đường Lê Lợi","locality":"Phường Hạc Thành","region":"Tỉnh Thanh Hóa","country":"VN"}`,
		"phone_number":    `"+84912345601"`,
	}
	l := newLogin()
	before := time.Now().Add(-time.Second)
	q := simLogin(t, c, l, "038085001234", eid.AuthOptions{ACR: "2", MaxAge: -1})
	id, err := c.Exchange(context.Background(), q.Get("code"), l.verifier, l.nonce)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	sub, _ := p.Subject("038085001234")
	if id.Issuer != srv.URL+"/vneid" || id.Subject != sub || id.ACR != "2" ||
		strings.Join(id.AMR, ",") != "pwd,otp" || id.AuthTime.Before(before.Truncate(time.Second)) || id.RawIDToken == "" {
		t.Fatalf("identity = %+v", id)
	}
	for attr, w := range want {
		t.Run(attr, func(t *testing.T) {
			if got := string(id.Attributes[attr]); got != w {
				t.Errorf("got %s, want %s", got, w)
			}
		})
	}
	if len(id.Attributes) != len(want) {
		t.Errorf("attributes %d, want %d", len(id.Attributes), len(want))
	}

	t.Run("level 1 citizen, female, no phone", func(t *testing.T) {
		l := newLogin()
		q := simLogin(t, c, l, "038303002468", eid.AuthOptions{MaxAge: -1})
		id, err := c.Exchange(context.Background(), q.Get("code"), l.verifier, l.nonce)
		if err != nil {
			t.Fatal(err)
		}
		if id.ACR != "1" || string(id.Attributes["gender"]) != `"female"` || string(id.Attributes["name"]) != `"Hoàng Thùy Dương"` {
			t.Fatalf("identity = %+v", id)
		}
	})
	t.Run("code reuse", func(t *testing.T) {
		_, err := c.Exchange(context.Background(), q.Get("code"), l.verifier, l.nonce)
		if !errors.Is(err, eid.ErrInvalidResponse) {
			t.Fatalf("err = %v", err)
		}
		if strings.Contains(err.Error(), q.Get("code")) {
			t.Fatal("error string carries the code")
		}
	})
}

func TestExchangeNonceMismatch(t *testing.T) {
	srv, _ := startSim(t)
	c := newConnector(t, srv.URL+"/vneid", nil)
	l := newLogin()
	q := simLogin(t, c, l, "038092004567", eid.AuthOptions{MaxAge: -1})
	_, err := c.Exchange(context.Background(), q.Get("code"), l.verifier, "another-nonce")
	if !errors.Is(err, eid.ErrInvalidResponse) {
		t.Fatalf("err = %v", err)
	}
}

func TestCallbackErrors(t *testing.T) {
	srv, _ := startSim(t)
	iss := srv.URL + "/vneid"
	c := newConnector(t, iss, nil)
	tests := []struct {
		name string
		q    url.Values
		want error
	}{
		{"code", url.Values{"code": {"x"}, "iss": {iss}}, nil},
		{"code without iss", url.Values{"code": {"x"}}, nil},
		{"mix-up", url.Values{"code": {"x"}, "iss": {"https://evil.example"}}, eid.ErrInvalidResponse},
		{"denied", url.Values{"error": {"access_denied"}, "iss": {iss}}, eid.ErrDenied},
		{"login required", url.Values{"error": {"login_required"}}, eid.ErrDenied},
		{"unavailable", url.Values{"error": {"temporarily_unavailable"}}, eid.ErrUnavailable},
		{"other", url.Values{"error": {"invalid_request"}}, eid.ErrInvalidResponse},
		{"nothing", url.Values{}, eid.ErrInvalidResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.CheckCallback(tt.q)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	// The sim's own denial, end to end.
	l := newLogin()
	u, err := c.AuthCodeURL(context.Background(), l.state, l.nonce, l.verifier, eid.AuthOptions{ACR: "2", MaxAge: -1})
	if err != nil {
		t.Fatalf("AuthCodeURL: %v", err)
	}
	cb, err := sim.Login(context.Background(), &http.Client{}, u, "038216009753", sim.DevPassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckCallback(cb.Query()); !errors.Is(err, eid.ErrDenied) {
		t.Fatalf("level-1 child asking level 2: %v", err)
	}
}

func TestUpstreamDown(t *testing.T) {
	t.Run("closed server", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		issuer := srv.URL + "/vneid"
		srv.Close()
		start := time.Now()
		c := newConnector(t, issuer, nil) // New does not fail
		if err := c.Ready(context.Background()); !errors.Is(err, eid.ErrUnavailable) {
			t.Fatalf("Ready: %v", err)
		}
		if u, err := c.AuthCodeURL(context.Background(), "s", "n", oauth2.GenerateVerifier(), eid.AuthOptions{MaxAge: -1}); u != "" || !errors.Is(err, eid.ErrUnavailable) {
			t.Fatalf("AuthCodeURL = %q", u)
		}
		_, err := c.Exchange(context.Background(), "code", oauth2.GenerateVerifier(), "n")
		if !errors.Is(err, eid.ErrUnavailable) {
			t.Fatalf("Exchange: %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("took %v", d)
		}
	})
	t.Run("hanging server", func(t *testing.T) {
		hang := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(hang) })
		start := time.Now()
		c := newConnector(t, srv.URL, func(cfg *vneid.Config) { cfg.Timeout = 200 * time.Millisecond })
		_, err := c.Exchange(context.Background(), "code", oauth2.GenerateVerifier(), "n")
		if !errors.Is(err, eid.ErrUnavailable) {
			t.Fatalf("Exchange: %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("took %v", d)
		}
	})
	t.Run("token endpoint down after discovery", func(t *testing.T) {
		srv, _ := startSim(t)
		c := newConnector(t, srv.URL+"/vneid", nil)
		srv.CloseClientConnections()
		srv.Close()
		start := time.Now()
		_, err := c.Exchange(context.Background(), "code", oauth2.GenerateVerifier(), "n")
		if !errors.Is(err, eid.ErrUnavailable) || time.Since(start) > time.Second {
			t.Fatalf("Exchange: %v after %v", err, time.Since(start))
		}
	})
}

func TestLazyDiscovery(t *testing.T) {
	var up atomic.Bool
	var simHandler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		simHandler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p, err := sim.New(sim.Config{Issuer: srv.URL,
		Clients: []sim.Client{{ID: clientID, Secret: clientSecret, RedirectURIs: []string{redirectURL}}}})
	if err != nil {
		t.Fatal(err)
	}
	simHandler = p
	now := time.Now()
	var offset atomic.Int64
	clock := func() time.Time { return now.Add(time.Duration(offset.Load())) }
	c := newConnector(t, srv.URL, func(cfg *vneid.Config) { cfg.Now = clock })
	if err := c.Ready(context.Background()); !errors.Is(err, eid.ErrUnavailable) {
		t.Fatalf("Ready while down: %v", err)
	}
	up.Store(true)
	if err := c.Ready(context.Background()); !errors.Is(err, eid.ErrUnavailable) {
		t.Fatalf("Ready within the retry interval should not retry: %v", err)
	}
	offset.Store(int64(3 * time.Second))
	if err := c.Ready(context.Background()); err != nil {
		t.Fatalf("Ready after recovery: %v", err)
	}
	l := newLogin()
	q := simLogin(t, c, l, "038178003321", eid.AuthOptions{MaxAge: -1})
	if _, err := c.Exchange(context.Background(), q.Get("code"), l.verifier, l.nonce); err != nil {
		t.Fatalf("Exchange after recovery: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := vneid.Config{Issuer: "https://eid.example", ClientID: "a", ClientSecret: "b", RedirectURL: "https://broker.example/cb"}
	tests := []struct {
		name    string
		change  func(c *vneid.Config)
		wantErr bool
	}{
		{"ok", func(*vneid.Config) {}, false},
		{"loopback http", func(c *vneid.Config) { c.Issuer = "http://127.0.0.1:8080/eid" }, false},
		{"plain http", func(c *vneid.Config) { c.Issuer = "http://eid.example" }, true},
		{"plain http allowed", func(c *vneid.Config) { c.Issuer = "http://eid-sim:8080"; c.InsecureAllowHTTP = true }, false},
		{"relative issuer", func(c *vneid.Config) { c.Issuer = "/eid" }, true},
		{"no secret", func(c *vneid.Config) { c.ClientSecret = "" }, true},
		{"relative redirect", func(c *vneid.Config) { c.RedirectURL = "/cb" }, true},
		{"no openid scope", func(c *vneid.Config) { c.Scopes = []string{"profile"} }, true},
		{"bad acr level", func(c *vneid.Config) { c.ACRMap = map[string]string{"high": "3"} }, true},
		{"URI acr values", func(c *vneid.Config) { c.ACRMap = map[string]string{"urn:vn:eid:loa:high": "2"} }, false},
		{"acr value with a space", func(c *vneid.Config) { c.ACRMap = map[string]string{"level 2": "2"} }, true},
		{"claim collision", func(c *vneid.Config) { c.ClaimMap = map[string]string{"a": "name", "b": "name"} }, true},
		{"negative timeout", func(c *vneid.Config) { c.Timeout = -1 }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.change(&c)
			if err := c.Validate(); (err != nil) != tt.wantErr {
				t.Fatalf("Validate = %v", err)
			}
		})
	}
}

func TestErrorIsTyped(t *testing.T) {
	var e *vneid.Error
	err := error(&vneid.Error{Kind: eid.ErrDenied, Op: "callback", Reason: "r", Code: "access_denied"})
	if !errors.As(err, &e) || !errors.Is(err, eid.ErrDenied) || errors.Is(err, eid.ErrUnavailable) {
		t.Fatal("errors.Is/As")
	}
}

func TestLogsCarryNoPersonalData(t *testing.T) {
	srv, _ := startSim(t)
	var buf strings.Builder
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newConnector(t, srv.URL+"/vneid", func(cfg *vneid.Config) { cfg.Logger = logger })
	l := newLogin()
	q := simLogin(t, c, l, "038085001234", eid.AuthOptions{MaxAge: -1})
	if _, err := c.Exchange(context.Background(), q.Get("code"), l.verifier, l.nonce); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exchange(context.Background(), q.Get("code"), l.verifier, l.nonce); err == nil {
		t.Fatal("reused code accepted")
	}
	out := buf.String()
	if !strings.Contains(out, "login verified") || !strings.Contains(out, "login failed") {
		t.Fatalf("expected log lines, got %s", out)
	}
	for _, pii := range []string{"038085001234", "Lĩnh", "1985-03-14", "Lê Lợi", q.Get("code"), l.verifier} {
		if strings.Contains(out, pii) {
			t.Errorf("log carries %q", pii)
		}
	}
}
