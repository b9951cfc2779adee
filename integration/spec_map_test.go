package integration

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/motlan/motlan/adapters/vneid/sim"
)

// specRef is how docs/SPEC-TESTS.md names a test: `directory.TestName`.
var specRef = regexp.MustCompile("`((?:[a-z0-9_]+/)*[a-z0-9_]+)\\.((?:Test|Fuzz)[A-Za-z0-9_]*)`")

// testWord is any word in the document that looks like a test function's name.
var testWord = regexp.MustCompile(`\b(?:Test|Fuzz)[A-Z0-9_][A-Za-z0-9_]*`)

// testFuncs returns the test and fuzz functions declared in dir's _test.go files.
func testFuncs(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	out := map[string]bool{}
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("parse %s: %v", f, err)
		}
		for _, d := range af.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || fd.Type.Params == nil || len(fd.Type.Params.List) != 1 {
				continue
			}
			// func TestX(t *testing.T) or func FuzzX(f *testing.F)
			star, ok := fd.Type.Params.List[0].Type.(*ast.StarExpr)
			if !ok {
				continue
			}
			sel, ok := star.X.(*ast.SelectorExpr)
			if !ok {
				continue
			}
			name := fd.Name.Name
			if strings.HasPrefix(name, "Test") && sel.Sel.Name == "T" || strings.HasPrefix(name, "Fuzz") && sel.Sel.Name == "F" {
				out[name] = true
			}
		}
	}
	return out
}

// packageDirs lists dir and every directory under it that holds Go test files, relative to
// root and slash-separated, as docs/SPEC-TESTS.md names them; testdata is skipped.
func packageDirs(t *testing.T, root, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if tests, _ := filepath.Glob(filepath.Join(path, "*_test.go")); len(tests) > 0 {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 2 {
		t.Fatalf("found test packages %v under %s; want idp and its subpackages", out, dir)
	}
	return out
}

// TestSpecMap keeps docs/SPEC-TESTS.md honest: every test it names exists where it says,
// every test-like word in it is such a checked name, and every attack test and spec test
// in the repository is named in it.
func TestSpecMap(t *testing.T) {
	root := ".."
	raw, err := os.ReadFile(filepath.Join(root, "docs", "SPEC-TESTS.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	refs := specRef.FindAllStringSubmatch(doc, -1)
	if len(refs) < 100 {
		t.Fatalf("only %d test references found: the document or the pattern changed", len(refs))
	}
	funcs := map[string]map[string]bool{}
	named := map[string]bool{}
	for _, r := range refs {
		dir, name := r[1], r[2]
		if funcs[dir] == nil {
			if st, err := os.Stat(filepath.Join(root, dir)); err != nil || !st.IsDir() {
				t.Errorf("%s.%s: no directory %s", dir, name, dir)
				funcs[dir] = map[string]bool{}
				continue
			}
			funcs[dir] = testFuncs(t, filepath.Join(root, dir))
		}
		if !funcs[dir][name] {
			t.Errorf("%s.%s: no such test function in %s/*_test.go", dir, name, dir)
		}
		named[dir+"."+name] = true
	}
	// A test named any other way would escape the check above.
	unchecked := specRef.ReplaceAllString(doc, "")
	for _, w := range testWord.FindAllString(unchecked, -1) {
		t.Errorf("%q is named outside the checked form `directory.%s`", w, w)
	}
	// Every attack test and spec test must be in the map: those of integration, and of idp
	// and every package under it.
	for _, dir := range append([]string{"integration"}, packageDirs(t, root, "idp")...) {
		fs := testFuncs(t, filepath.Join(root, dir))
		for name := range fs {
			if (strings.HasPrefix(name, "TestAttack_") || strings.HasPrefix(name, "TestSpec")) && name != "TestSpecMap" && !named[dir+"."+name] {
				t.Errorf("%s.%s is not in docs/SPEC-TESTS.md", dir, name)
			}
		}
	}
	// Every threat of RFC 9700 section 4 has a row.
	for i := 1; i <= 17; i++ {
		row := "| 4." + strconv.Itoa(i) + " "
		if !strings.Contains(doc, row) {
			t.Errorf("RFC 9700 section 4.%d has no row", i)
		}
	}
}

// TestSpecEssentialACRClaim: OIDC Core 5.5.1.1, an essential acr in the claims parameter
// is a required level, exactly as acr_values: it goes to the eID, a level-1 citizen gets
// access_denied, and a level-2 login carries acr 2.
func TestSpecEssentialACRClaim(t *testing.T) {
	s := newStack(t, "sqlite")
	req, _ := json.Marshal(map[string]any{"id_token": map[string]any{"acr": map[string]any{"essential": true, "values": []string{"2"}}}})
	opt := oauth2.SetAuthURLParam("claims", string(req))

	b := newBrowser(t)
	a := s.insure.authorize([]string{"openid"}, opt)
	loc := location(t, b.get(a.url))
	if !isEID(s, loc) || loc.Query().Get("acr_values") != "2" {
		t.Fatalf("the eID was not asked for level 2: %s", loc)
	}
	cb, err := sim.Login(context.Background(), b.client, loc.String(), childCCCD, sim.DevPassword)
	if err != nil {
		t.Fatal(err)
	}
	authError(t, location(t, b.get(cb.String())), s.insure.redirect, a.state, s.issuer, "access_denied")

	a = s.insure.authorize([]string{"openid"}, opt)
	cb2, _, _ := s.login(t, newBrowser(t), a, haoCCCD, "")
	_, idt := s.insure.redeem(t, s, a, cb2)
	var c struct {
		ACR string `json:"acr"`
	}
	if err := idt.Claims(&c); err != nil || c.ACR != "2" {
		t.Fatalf("acr %q: %v", c.ACR, err)
	}
}
