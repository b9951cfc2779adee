package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

type openAPIDoc struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestOpenAPIMatchesRoutes: every route the mux serves is in the committed document and
// every operation of the document is served, by that very route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	e := newEnv(t)
	mux := e.api.Handler().(*http.ServeMux)
	served := map[string]bool{}
	for _, rt := range e.api.routeList {
		key := rt.method + " " + rt.pattern
		served[key] = true
		if _, ok := doc.Paths[rt.pattern][strings.ToLower(rt.method)]; !ok {
			t.Errorf("route %s is not in openapi.json", key)
		}
	}
	sample := regexp.MustCompile(`\{(\w+)\}`)
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			key := strings.ToUpper(method) + " " + path
			if !served[key] {
				t.Errorf("openapi.json documents %s, which is not served", key)
				continue
			}
			concrete := sample.ReplaceAllStringFunc(path, func(p string) string {
				if p == "{index}" {
					return "0"
				}
				return "abc"
			})
			_, pattern := mux.Handler(httptest.NewRequest(strings.ToUpper(method), concrete, nil))
			if pattern != key {
				t.Errorf("%s %s is served by %q, want %q", strings.ToUpper(method), concrete, pattern, key)
			}
		}
	}
	// Every problem type constant appears in the document's descriptions.
	for _, typ := range []string{ProblemUnauthorized, ProblemInsufficientScope, ProblemForbidden, ProblemInvalidRequest, ProblemTooLarge,
		ProblemNotFound, ProblemIdempotencyReuse, ProblemRequestEnded, ProblemNotPending, ProblemNotSigned, ProblemExpired, ProblemUnsupportedMediaType,
		ProblemConflict, ProblemDocumentsChanged, ProblemCertRevoked, ProblemUnavailable, ProblemInternal, ProblemTooManyRequests, ProblemUnknownSubject} {
		slug := strings.TrimPrefix(typ, ProblemBase)
		if !bytes.Contains(openAPI, []byte("`"+slug+"`")) {
			t.Errorf("problem type %s is not described", slug)
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	resp := e.do("GET", "/signing/v1/openapi.json", "", nil, nil)
	b := readAll(t, resp)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	onDisk, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, onDisk) {
		t.Error("served document differs from signing/httpapi/openapi.json")
	}
	// Every $ref resolves.
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
	}
	for _, ref := range regexp.MustCompile(`"\$ref": "#/([^"]+)"`).FindAllStringSubmatch(string(b), -1) {
		var cur any = root
		for _, seg := range strings.Split(ref[1], "/") {
			m, ok := cur.(map[string]any)
			if !ok {
				cur = nil
				break
			}
			cur = m[seg]
		}
		if cur == nil {
			t.Errorf("dangling $ref #/%s", ref[1])
		}
	}
	// Operation ids are unique.
	ids := regexp.MustCompile(`"operationId": "([^"]+)"`).FindAllStringSubmatch(string(b), -1)
	var seen []string
	for _, id := range ids {
		if slices.Contains(seen, id[1]) {
			t.Errorf("duplicate operationId %s", id[1])
		}
		seen = append(seen, id[1])
	}
}
