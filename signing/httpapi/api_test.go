package httpapi

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/motlan/motlan/signing"
)

func TestCreate(t *testing.T) {
	okDoc := file("a.pdf", pdf("a"))
	tests := []struct {
		name   string
		token  string
		hdr    http.Header
		parts  []part
		status int
		typ    string // problem type when not 201
		field  string
		index  *int
		check  func(t *testing.T, in signing.CreateInput, out requestJSON)
	}{
		{
			name: "client with everything", token: tokPortal,
			parts: []part{
				field("subject", "sub-x"), field("reason", "Nộp hồ sơ"), field("location", "Huế"), field("level", "B-B"),
				field("callback_url", "https://portal.test/cb"), field("ttl", "30m"),
				field("title", "Tờ khai đăng ký khai sinh"), file("a.pdf", pdf("a")), field("placement", `{"page":1,"rect":[36,36,236,96]}`),
				field("title", "Giấy chứng sinh"), file("b.pdf", pdf("b")), field("placement", ""),
			},
			status: http.StatusCreated,
			check: func(t *testing.T, in signing.CreateInput, out requestJSON) {
				if in.ClientID != portal || in.Subject != "sub-x" || in.Reason != "Nộp hồ sơ" || in.Location != "Huế" ||
					in.Level != signing.LevelBB || in.CallbackURL != "https://portal.test/cb" || in.TTL != 30*time.Minute || in.CitizenID != "cit-x" {
					t.Errorf("input %+v", in)
				}
				if len(in.Documents) != 2 || in.Documents[0].Title != "Tờ khai đăng ký khai sinh" || in.Documents[1].Title != "Giấy chứng sinh" ||
					in.Documents[0].Placement == nil || in.Documents[0].Placement.Rect != [4]float64{36, 36, 236, 96} || in.Documents[1].Placement != nil ||
					!bytes.Equal(in.Documents[1].PDF, pdf("b")) {
					t.Errorf("documents %+v", in.Documents)
				}
				if out.ID == "" || out.Status != signing.StatusPending || out.ExpiresAt.IsZero() ||
					out.ApprovalURL != base+"/sign/"+out.ID || !strings.HasPrefix(out.QRPNGURL, base+"/signing/v1/requests/"+out.ID+"/qr.png?exp=") ||
					out.QRSVGURL != base+"/signing/v1/requests/"+out.ID+"/qr.svg" || len(out.Documents) != 2 ||
					out.Documents[1].Index != 1 || out.Documents[1].SHA256 != hexSHA(pdf("b")) || out.Documents[0].Pages != 1 ||
					out.Documents[0].Title != "Tờ khai đăng ký khai sinh" {
					t.Errorf("answer %+v", out)
				}
			},
		},
		{
			name: "defaults; title from file name; NFC titles", token: tokPortal,
			parts:  []part{field("subject", "s"), file("Giay to.pdf", pdf("a")), file("x.pdf", pdf("x"))},
			status: http.StatusCreated,
			check: func(t *testing.T, in signing.CreateInput, out requestJSON) {
				if in.Level != signing.LevelBT || in.TTL != 0 || in.Documents[0].Title != "Giay to" || in.Documents[1].Title != "x" {
					t.Errorf("input %+v", in)
				}
			},
		},
		{
			name: "decomposed diacritics are normalized", token: tokPortal,
			parts:  []part{field("subject", "s"), field("title", "Tơ\u0300 khai"), okDoc},
			status: http.StatusCreated,
			check: func(t *testing.T, in signing.CreateInput, _ requestJSON) {
				if in.Documents[0].Title != "Tờ khai" {
					t.Errorf("title %q", in.Documents[0].Title)
				}
			},
		},
		{
			name: "citizen token: subject from the token", token: tokCitizen,
			parts: []part{okDoc}, status: http.StatusCreated,
			check: func(t *testing.T, in signing.CreateInput, out requestJSON) {
				if in.Subject != subA || in.CitizenID != citizenA || out.Subject != subA {
					t.Errorf("input %+v", in)
				}
			},
		},
		{name: "citizen token naming another subject", token: tokCitizen, parts: []part{field("subject", "someone"), okDoc},
			status: 403, typ: ProblemForbidden},
		{name: "http callback on loopback", token: tokPortal, parts: []part{field("subject", "s"), field("callback_url", "http://127.0.0.1:8080/cb"), okDoc},
			status: http.StatusCreated},
		{name: "http callback elsewhere", token: tokPortal, parts: []part{field("subject", "s"), field("callback_url", "http://portal.test/cb"), okDoc},
			status: 400, typ: ProblemInvalidRequest, field: "callback_url"},
		{name: "no subject", token: tokPortal, parts: []part{okDoc}, status: 400, typ: ProblemInvalidRequest, field: "subject"},
		{name: "subject no citizen has", token: tokPortal, parts: []part{field("subject", "nobody"), okDoc}, status: 422, typ: ProblemUnknownSubject, field: "subject"},
		{name: "another client's subject", token: tokOther, parts: []part{field("subject", subA), okDoc}, status: 422, typ: ProblemUnknownSubject, field: "subject"},
		{name: "bad level", token: tokPortal, parts: []part{field("subject", "s"), field("level", "B-LTX"), okDoc}, status: 400, typ: ProblemInvalidRequest, field: "level"},
		{name: "ttl over 24h", token: tokPortal, parts: []part{field("subject", "s"), field("ttl", "25h"), okDoc}, status: 400, typ: ProblemInvalidRequest, field: "ttl"},
		{name: "no document", token: tokPortal, parts: []part{field("subject", "s")}, status: 400, typ: ProblemInvalidRequest, field: "document"},
		{name: "titles do not match documents", token: tokPortal, parts: []part{field("subject", "s"), field("title", "a"), field("title", "b"), okDoc},
			status: 400, typ: ProblemInvalidRequest, field: "title"},
		{name: "bad placement", token: tokPortal, parts: []part{field("subject", "s"), okDoc, field("placement", "{}"), okDoc, field("placement", `{"page":1,"rect":[9,9,1,1]}`)},
			status: 400, typ: ProblemInvalidRequest, field: "placement", index: ptr(1)},
		{name: "unknown field", token: tokPortal, parts: []part{field("subject", "s"), field("documents", "x"), okDoc}, status: 400, typ: ProblemInvalidRequest, field: "documents"},
		{name: "repeated subject", token: tokPortal, parts: []part{field("subject", "s"), field("subject", "t"), okDoc}, status: 400, typ: ProblemInvalidRequest, field: "subject"},
		{name: "too many documents", token: tokPortal, parts: []part{field("subject", "s"), okDoc, okDoc, okDoc, okDoc}, status: 400, typ: ProblemInvalidRequest, field: "document"},
		{name: "not a PDF", token: tokPortal, parts: []part{field("subject", "s"), okDoc, file("b.pdf", []byte("GIF89a"))},
			status: 422, typ: ProblemBase + "not-pdf", index: ptr(1)},
		{name: "not multipart", token: tokPortal, hdr: http.Header{"Content-Type": {"application/json"}}, status: 415, typ: ProblemUnsupportedMediaType},
		{name: "bad Idempotency-Key", token: tokPortal, hdr: http.Header{"Idempotency-Key": {"a b"}}, parts: []part{field("subject", "s"), okDoc},
			status: 400, typ: ProblemInvalidRequest, field: "Idempotency-Key"},
		{name: "no token", parts: []part{okDoc}, status: 401, typ: ProblemUnauthorized},
		{name: "unknown token", token: "nope", parts: []part{okDoc}, status: 401, typ: ProblemUnauthorized},
		{name: "token without scope", token: tokNoScope, parts: []part{okDoc}, status: 403, typ: ProblemInsufficientScope},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.MaxDocuments = 3 })
			hdr, body := form(t, tc.parts...)
			for k, v := range tc.hdr {
				hdr[k] = v
			}
			resp := e.do("POST", "/signing/v1/requests", tc.token, hdr, body)
			if tc.status != http.StatusCreated {
				p := wantProblem(t, resp, tc.status, tc.typ)
				if p.Field != tc.field {
					t.Errorf("field %q, want %q", p.Field, tc.field)
				}
				if tc.index != nil && (p.DocumentIndex == nil || *p.DocumentIndex != *tc.index) {
					t.Errorf("document_index %v, want %d", p.DocumentIndex, *tc.index)
				}
				if tc.typ == ProblemUnknownSubject && len(e.svc.inputs) != 0 {
					t.Errorf("a request for an unknown subject reached the service: %+v", e.svc.inputs)
				}
				return
			}
			out := decodeReq(t, resp, http.StatusCreated)
			if loc := resp.Header.Get("Location"); loc != base+"/signing/v1/requests/"+out.ID {
				t.Errorf("Location %q", loc)
			}
			if tc.check != nil {
				tc.check(t, e.svc.inputs[len(e.svc.inputs)-1], out)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestAuthChallenges(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		token, status, challenge string
	}{
		{"", "401", `Bearer realm="motlan", scope="signing"`},
		{"bad", "401", `Bearer realm="motlan", error="invalid_token"`},
		{tokNoScope, "403", `Bearer realm="motlan", error="insufficient_scope", scope="signing"`},
	}
	for _, tc := range tests {
		t.Run(tc.status+tc.token, func(t *testing.T) {
			resp := e.do("GET", "/signing/v1/requests?subject=x", tc.token, nil, nil)
			if fmt.Sprint(resp.StatusCode) != tc.status || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), tc.challenge) {
				t.Errorf("%d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	// A citizen token needs "sign", not "signing".
	e.auth.tokens["cit-noscope"] = Caller{ClientID: portal, Subject: subA, CitizenID: citizenA, Scopes: []string{"signing"}}
	resp := e.do("GET", "/signing/v1/requests", "cit-noscope", nil, nil)
	wantProblem(t, resp, 403, ProblemInsufficientScope)
	if !strings.Contains(resp.Header.Get("WWW-Authenticate"), `scope="sign"`) {
		t.Errorf("challenge %q", resp.Header.Get("WWW-Authenticate"))
	}
}

func TestCreateIdempotency(t *testing.T) {
	e := newEnv(t)
	send := func(key, title string) *http.Response {
		hdr, body := form(t, field("subject", "s"), field("title", title), file("a.pdf", pdf("a")))
		hdr.Set("Idempotency-Key", key)
		return e.do("POST", "/signing/v1/requests", tokPortal, hdr, body)
	}
	first := decodeReq(t, send("k-1", "Đơn"), http.StatusCreated)
	e.clock.Add(2 * time.Second)
	resp := send(`"k-1"`, "Đơn") // the draft's quoted form is the same key
	again := decodeReq(t, resp, http.StatusOK)
	if again.ID != first.ID || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry gave %s (first %s), header %q", again.ID, first.ID, resp.Header.Get("Idempotent-Replayed"))
	}
	for _, in := range e.svc.inputs {
		if in.IdempotencyKey != "k-1" {
			t.Errorf("key passed as %q", in.IdempotencyKey)
		}
	}
	wantProblem(t, send("k-1", "Đơn khác"), http.StatusConflict, ProblemIdempotencyReuse)
	decodeReq(t, send("k-2", "Đơn"), http.StatusCreated)
}

// countingReader produces n bytes of a PDF-looking multipart body and counts what was read.
type countingReader struct {
	r    io.Reader
	read atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read.Add(int64(n))
	return n, err
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestUploadLimits(t *testing.T) {
	const limit = 4 << 10
	e := newEnv(t, func(c *Config) { c.MaxUploadBytes = limit; c.MaxDocuments = 2 })

	t.Run("at the limit", func(t *testing.T) {
		doc := append(pdf("x"), bytes.Repeat([]byte{' '}, limit-len(pdf("x")))...)
		hdr, body := form(t, field("subject", "s"), file("a.pdf", doc))
		decodeReq(t, e.do("POST", "/signing/v1/requests", tokPortal, hdr, body), http.StatusCreated)
	})

	// A streamed (chunked) upload of 256 MB: answered 413 after about the limit, not read
	// to the end.
	huge := func() (http.Header, *countingReader, int64) {
		hdr, head := form(t, field("subject", "s"))
		ct := hdr.Get("Content-Type")
		boundary := ct[strings.Index(ct, "boundary=")+len("boundary="):]
		pre := strings.TrimSuffix(head.String(), "--"+boundary+"--\r\n")
		pre += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"document\"; filename=\"big.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\n"
		const size = 256 << 20
		return hdr, &countingReader{r: io.MultiReader(strings.NewReader(pre), io.LimitReader(zeros{}, size))}, size
	}
	t.Run("document over the limit, streamed", func(t *testing.T) {
		hdr, body, size := huge()
		req, _ := http.NewRequest("POST", e.srv.URL+"/signing/v1/requests", body)
		req.Header = hdr
		req.Header.Set("Authorization", "Bearer "+tokPortal)
		req.ContentLength = -1
		resp, err := e.client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		p := wantProblem(t, resp, http.StatusRequestEntityTooLarge, ProblemTooLarge)
		if p.DocumentIndex == nil || *p.DocumentIndex != 0 || p.Limit != limit || p.Code != "too_large" {
			t.Errorf("problem %+v", p)
		}
		if n := body.read.Load(); n > size/4 {
			t.Errorf("the client sent %d of %d bytes: the server read on", n, size)
		}
	})
	t.Run("declared Content-Length over the limit", func(t *testing.T) {
		hdr, body, size := huge()
		req, _ := http.NewRequest("POST", e.srv.URL+"/signing/v1/requests", io.LimitReader(body, size))
		req.Header = hdr
		req.Header.Set("Authorization", "Bearer "+tokPortal)
		req.ContentLength = size
		resp, err := e.client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		p := wantProblem(t, resp, http.StatusRequestEntityTooLarge, ProblemTooLarge)
		if p.Limit != 2*limit+formSlack || p.DocumentIndex != nil {
			t.Errorf("problem %+v", p)
		}
		if n := body.read.Load(); n > size/4 {
			t.Errorf("the client sent %d of %d bytes", n, size)
		}
	})
	if len(e.svc.inputs) != 1 {
		t.Errorf("service saw %d creates, want 1", len(e.svc.inputs))
	}
}

func TestGetListCancel(t *testing.T) {
	e := newEnv(t)
	e.pending("r1")
	e.pending("r2")
	e.svc.put(signing.Request{ID: "theirs", ClientID: portal, Subject: "sub-other@portal", Status: signing.StatusPending})
	e.svc.put(signing.Request{ID: "old", ClientID: portal, Subject: subA, Status: signing.StatusExpired})
	e.svc.put(signing.Request{ID: "done", ClientID: portal, Subject: subA, Status: signing.StatusSigned})

	tests := []struct {
		name, method, path, token string
		status                    int
		typ                       string
		check                     func(t *testing.T, body []byte)
	}{
		{name: "get", method: "GET", path: "/signing/v1/requests/r1", token: tokPortal, status: 200, check: func(t *testing.T, b []byte) {
			contains(t, string(b), `"id":"r1"`, `"status":"pending"`, `"subject":"`+subA+`"`, `"title":"Tờ khai đăng ký khai sinh"`, `"version":1`)
		}},
		{name: "get by the citizen", method: "GET", path: "/signing/v1/requests/r1", token: tokCitizen, status: 200},
		{name: "another client's request", method: "GET", path: "/signing/v1/requests/r1", token: tokOther, status: 404, typ: ProblemNotFound},
		{name: "another citizen's request", method: "GET", path: "/signing/v1/requests/theirs", token: tokCitizen, status: 404, typ: ProblemNotFound},
		{name: "missing", method: "GET", path: "/signing/v1/requests/nope", token: tokPortal, status: 404, typ: ProblemNotFound},
		{name: "bad id", method: "GET", path: "/signing/v1/requests/a.b", token: tokPortal, status: 404, typ: ProblemNotFound},
		{name: "bad wait", method: "GET", path: "/signing/v1/requests/r1?wait=soon", token: tokPortal, status: 400, typ: ProblemInvalidRequest},
		{name: "bad since", method: "GET", path: "/signing/v1/requests/r1?wait=1s&since=x", token: tokPortal, status: 400, typ: ProblemInvalidRequest},
		{name: "list", method: "GET", path: "/signing/v1/requests?subject=" + subA, token: tokPortal, status: 200, check: func(t *testing.T, b []byte) {
			var out struct{ Requests []requestJSON }
			_ = json.Unmarshal(b, &out)
			if len(out.Requests) != 4 {
				t.Errorf("%d requests", len(out.Requests))
			}
		}},
		{name: "list without subject", method: "GET", path: "/signing/v1/requests", token: tokPortal, status: 400, typ: ProblemInvalidRequest},
		{name: "list bad limit", method: "GET", path: "/signing/v1/requests?subject=x&limit=0", token: tokPortal, status: 400, typ: ProblemInvalidRequest},
		{name: "list by the citizen", method: "GET", path: "/signing/v1/requests", token: tokCitizen, status: 200},
		{name: "list another subject by the citizen", method: "GET", path: "/signing/v1/requests?subject=x", token: tokCitizen, status: 403, typ: ProblemForbidden},
		{name: "cancel", method: "POST", path: "/signing/v1/requests/r2/cancel", token: tokPortal, status: 200, check: func(t *testing.T, b []byte) {
			contains(t, string(b), `"status":"canceled"`)
		}},
		{name: "cancel again", method: "POST", path: "/signing/v1/requests/r2/cancel", token: tokPortal, status: 409, typ: ProblemRequestEnded},
		{name: "cancel expired", method: "POST", path: "/signing/v1/requests/old/cancel", token: tokPortal, status: 410, typ: ProblemExpired},
		{name: "cancel another client's", method: "POST", path: "/signing/v1/requests/r1/cancel", token: tokOther, status: 404, typ: ProblemNotFound},
		{name: "cancel another citizen's", method: "POST", path: "/signing/v1/requests/theirs/cancel", token: tokCitizen, status: 404, typ: ProblemNotFound},
		{name: "unknown endpoint", method: "GET", path: "/signing/v1/nothing", token: tokPortal, status: 404, typ: ProblemNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.do(tc.method, tc.path, tc.token, nil, nil)
			if tc.typ != "" {
				wantProblem(t, resp, tc.status, tc.typ)
				return
			}
			b := readAll(t, resp)
			if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
			if tc.check != nil {
				tc.check(t, b)
			}
		})
	}
}

func TestLongPoll(t *testing.T) {
	e := newEnv(t)
	e.pending("r1")

	t.Run("returns early on change", func(t *testing.T) {
		go func() {
			time.Sleep(150 * time.Millisecond)
			e.svc.update("r1", func(r *signing.Request) { r.Status = signing.StatusSigning })
		}()
		start := time.Now()
		out := decodeReq(t, e.do("GET", "/signing/v1/requests/r1?wait=20s&since=1", tokPortal, nil, nil), 200)
		if el := time.Since(start); el > 5*time.Second || el < 100*time.Millisecond {
			t.Errorf("answered after %v", el)
		}
		if out.Status != signing.StatusSigning || out.Version != 2 {
			t.Errorf("got %s v%d", out.Status, out.Version)
		}
	})
	t.Run("times out at the given wait", func(t *testing.T) {
		start := time.Now()
		out := decodeReq(t, e.do("GET", "/signing/v1/requests/r1?wait=400ms", tokPortal, nil, nil), 200)
		if el := time.Since(start); el < 400*time.Millisecond || el > 3*time.Second {
			t.Errorf("answered after %v", el)
		}
		if out.Version != 2 {
			t.Errorf("version %d", out.Version)
		}
		if w := e.svc.waits[len(e.svc.waits)-1]; w != 400*time.Millisecond {
			t.Errorf("service waited %v", w)
		}
	})
	t.Run("an older since answers at once", func(t *testing.T) {
		n := len(e.svc.waits)
		start := time.Now()
		out := decodeReq(t, e.do("GET", "/signing/v1/requests/r1?wait=20s&since=1", tokPortal, nil, nil), 200)
		if time.Since(start) > 2*time.Second || out.Version != 2 || len(e.svc.waits) != n {
			t.Errorf("waited for a change already seen")
		}
	})
	t.Run("final requests answer at once", func(t *testing.T) {
		e.svc.update("r1", func(r *signing.Request) { r.Status = signing.StatusRejected })
		start := time.Now()
		decodeReq(t, e.do("GET", "/signing/v1/requests/r1?wait=20s", tokPortal, nil, nil), 200)
		if time.Since(start) > 2*time.Second {
			t.Error("waited on a final request")
		}
	})
}

func TestParseWait(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"", 0, false}, {"30s", 30 * time.Second, false}, {"45", 45 * time.Second, false},
		{"2m", MaxWait, false}, {"120", MaxWait, false}, {"-1s", 0, true}, {"soon", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, p := parseWait(tc.in)
			if (p != nil) != tc.bad || got != tc.want {
				t.Errorf("parseWait(%q) = %v, %v", tc.in, got, p)
			}
		})
	}
}

func TestSignedDocument(t *testing.T) {
	e := newEnv(t)
	r := e.pending("r1")
	path := "/signing/v1/requests/r1/documents/"
	wantProblem(t, e.do("GET", path+"0", tokPortal, nil, nil), 409, ProblemNotSigned)
	if _, err := e.svc.Approve(t.Context(), "r1", citizenA, func(c string) string { return "sub-" + citizenA + "@" + c },
		[]string{r.Documents[0].SHA256, r.Documents[1].SHA256}); err != nil {
		t.Fatal(err)
	}
	resp := e.do("GET", path+"1", tokPortal, nil, nil)
	b := readAll(t, resp)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(b, []byte("%PDF-")) ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") || !strings.HasPrefix(resp.Header.Get("Repr-Digest"), "sha-256=:") {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, "filename*=utf-8''Gi%E1%BA%A5y%20ch%E1%BB%A9ng%20sinh.pdf") {
		t.Errorf("Content-Disposition %q", cd)
	}
	out := decodeReq(t, e.do("GET", "/signing/v1/requests/r1", tokPortal, nil, nil), 200)
	if out.Documents[1].DownloadURL != base+path+"1" || out.Documents[1].SignedSHA256 == "" || out.Documents[1].SignedAt.IsZero() {
		t.Errorf("document %+v", out.Documents[1])
	}
	wantProblem(t, e.do("GET", path+"2", tokPortal, nil, nil), 404, ProblemNotFound)
	wantProblem(t, e.do("GET", path+"01", tokPortal, nil, nil), 404, ProblemNotFound)
	wantProblem(t, e.do("GET", path+"0", tokOther, nil, nil), 404, ProblemNotFound)
}

func TestQR(t *testing.T) {
	e := newEnv(t)
	e.pending("r1")
	resp := e.do("GET", "/signing/v1/requests/r1/qr.png?size=300", tokPortal, nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	img, err := png.Decode(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 300 || b.Dy() != 300 {
		t.Errorf("size %v", b)
	}

	resp = e.do("GET", "/signing/v1/requests/r1/qr.svg", tokPortal, nil, nil)
	b := readAll(t, resp)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var svg struct {
		XMLName xml.Name
		ViewBox string `xml:"viewBox,attr"`
		Rect    struct {
			Fill string `xml:"fill,attr"`
		} `xml:"rect"`
		Path struct {
			D string `xml:"d,attr"`
		} `xml:"path"`
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&svg); err != nil {
		t.Fatalf("SVG is not XML: %v", err)
	}
	for { // the rest must be well-formed too
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if svg.XMLName.Local != "svg" || svg.XMLName.Space != "http://www.w3.org/2000/svg" || !strings.HasPrefix(svg.ViewBox, "0 0 ") ||
		!strings.HasPrefix(svg.Path.D, "M") || svg.Rect.Fill != "#fff" {
		t.Errorf("svg %+v", svg)
	}

	wantProblem(t, e.do("GET", "/signing/v1/requests/r1/qr.png?size=5", tokPortal, nil, nil), 400, ProblemInvalidRequest)
	wantProblem(t, e.do("GET", "/signing/v1/requests/r1/qr.svg", tokOther, nil, nil), 404, ProblemNotFound)
	wantProblem(t, e.do("GET", "/signing/v1/requests/r1/qr.png", "", nil, nil), 401, ProblemUnauthorized)
}

// TestQRSVGMatchesBitmap checks the SVG draws exactly the dark modules.
func TestQRSVGMatchesBitmap(t *testing.T) {
	b, err := qrSVG(base + "/sign/abc")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	d := s[strings.Index(s, ` d="`)+4:]
	d = d[:strings.Index(d, `"`)]
	var dark int
	for _, cmd := range strings.Split(d, "z")[:strings.Count(d, "z")] {
		var x, y, w, w2 int
		if _, err := fmt.Sscanf(cmd, "M%d %dh%dv1h-%d", &x, &y, &w, &w2); err != nil || w != w2 {
			t.Fatalf("path command %q: %v", cmd, err)
		}
		dark += w
	}
	if dark == 0 {
		t.Fatal("no dark modules")
	}
}

func TestProblemFor(t *testing.T) {
	tests := []struct {
		err    error
		status int
		typ    string
	}{
		{signing.ErrNotFound, 404, ProblemNotFound},
		{fmt.Errorf("get: %w", signing.ErrForbidden), 404, ProblemNotFound},
		{signing.ErrConflict, 409, ProblemConflict},
		{signing.ErrFinal, 409, ProblemRequestEnded},
		{signing.ErrNotPending, 409, ProblemNotPending},
		{signing.ErrMismatch, 409, ProblemDocumentsChanged},
		{fmt.Errorf("x: %w", signing.ErrExpired), 410, ProblemExpired},
		{&signing.InputError{Index: 2, Code: "not_pdf", Msg: "no header"}, 422, ProblemBase + "not-pdf"},
		{fmt.Errorf("w: %w", &signing.InputError{Index: 0, Code: "broken_xref"}), 422, ProblemBase + "broken-xref"},
		{&signing.InputError{Index: 1, Code: "too_large"}, 413, ProblemTooLarge},
		{&signing.InputError{Index: 1, Code: "Weird Code!"}, 422, ProblemBase + "weirdcode"},
		{&signing.InputError{Index: -1, Code: signing.CodeTooMany}, 422, ProblemBase + "too-many"},
		{&signing.InputError{Index: -1, Code: signing.CodeInvalid, Msg: "no subject"}, 400, ProblemInvalidRequest},
		{&signing.InputError{Index: 0, Code: signing.CodeBadPlacement}, 422, ProblemBase + "bad-placement"},
		{signing.ErrNotSigned, 409, ProblemNotSigned},
		{fmt.Errorf("sqlstore: signed pdf: %w", signing.ErrPurged), 410, ProblemDocumentsDeleted},
		{signing.ErrCertificateRevoked, 409, ProblemCertRevoked},
		{errors.New("db: citizen 012345678901 not found"), 500, ProblemInternal},
	}
	for _, tc := range tests {
		t.Run(tc.err.Error(), func(t *testing.T) {
			p := problemFor(tc.err)
			if p.Status != tc.status || p.Type != tc.typ || p.Title == "" {
				t.Errorf("got %+v", p)
			}
			if strings.Contains(p.Detail, "0123") {
				t.Errorf("detail leaks the cause: %q", p.Detail)
			}
			var ie *signing.InputError
			if errors.As(tc.err, &ie) && ie.Index >= 0 && (p.DocumentIndex == nil || *p.DocumentIndex != ie.Index) {
				t.Errorf("document_index %v", p.DocumentIndex)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	good := Config{Service: newFakeService(time.Now), Auth: &fakeAuth{}, BaseURL: base, CSRFKey: make([]byte, 32)}
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"no service", func(c *Config) { c.Service = nil }},
		{"no auth", func(c *Config) { c.Auth = nil }},
		{"relative base", func(c *Config) { c.BaseURL = "/x" }},
		{"short CSRF key", func(c *Config) { c.CSRFKey = make([]byte, 16) }},
		{"negative limit", func(c *Config) { c.MaxUploadBytes = -1 }},
	}
	if _, err := New(good); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.mod(&c)
			if _, err := New(c); err == nil {
				t.Error("accepted")
			}
		})
	}
}
