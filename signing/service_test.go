package signing_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/keys/ca"
	"github.com/motlan/motlan/signing"
)

func (w *world) create(docs int, mod func(*signing.CreateInput)) signing.Request {
	w.t.Helper()
	in := signing.CreateInput{
		ClientID: clientID, Subject: subject,
		Reason: "Ký hồ sơ đăng ký khai sinh (Ĩnh, ĩ)", Location: "Sầm Sơn, Thanh Hóa",
		CallbackURL: w.hook.url,
	}
	for i := range docs {
		d := signing.DocumentInput{Title: "Tờ khai số " + string(rune('1'+i)), PDF: minimalPDF(i + 1)}
		if i == 0 {
			d.Placement = &signing.Placement{Auto: true}
		}
		in.Documents = append(in.Documents, d)
	}
	if mod != nil {
		mod(&in)
	}
	r, err := w.service.Create(context.Background(), in)
	if err != nil {
		w.t.Fatalf("create: %v", err)
	}
	return r
}

func hashes(r signing.Request) []string {
	var out []string
	for _, d := range r.Documents {
		out = append(out, d.SHA256)
	}
	return out
}

func TestCreateApproveSign(t *testing.T) {
	w := newWorld(t)
	db := testpki.NSSDB(t, w.devCA.Root())
	ctx := context.Background()
	r := w.create(2, nil)
	if r.Status != signing.StatusPending || r.Level != signing.LevelBT || len(r.Documents) != 2 || r.Documents[1].Pages != 2 {
		t.Fatalf("created: %+v", r)
	}
	if !r.ExpiresAt.Equal(r.CreatedAt.Add(15 * time.Minute)) {
		t.Fatalf("expiry %v after creation %v", r.ExpiresAt, r.CreatedAt)
	}
	if _, err := w.service.SignedPDF(ctx, clientID, r.ID, 0); !errors.Is(err, signing.ErrNotSigned) {
		t.Fatalf("signed PDF before signing: %v", err)
	}
	shown, err := w.service.ForApproval(ctx, r.ID, citizenID, subjectFor)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.service.ForApproval(ctx, r.ID, "someone-else", func(string) string { return "nope" }); !errors.Is(err, signing.ErrForbidden) {
		t.Fatalf("another citizen: %v", err)
	}
	orig, err := w.service.OriginalPDF(ctx, r.ID, 1, citizenID, subjectFor)
	if err != nil || !bytes.Equal(orig, minimalPDF(2)) {
		t.Fatalf("original: %v", err)
	}

	done, err := w.service.Approve(ctx, r.ID, citizenID, subjectFor, hashes(shown))
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != signing.StatusSigned || done.CitizenID != citizenID {
		t.Fatalf("after approval: %s %q (%s)", done.Status, done.CitizenID, done.Failure)
	}
	if n := w.vault.calls.Load(); n != 2 {
		t.Fatalf("vault signed %d times for 2 documents", n)
	}
	for i, d := range done.Documents {
		if d.SignedAt.IsZero() || d.SignedSHA == "" {
			t.Fatalf("document %d not marked signed", i)
		}
		pdf, err := w.service.SignedPDF(ctx, clientID, r.ID, i)
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(pdf); hex.EncodeToString(sum[:]) != d.SignedSHA {
			t.Fatalf("document %d: SignedSHA differs from the bytes", i)
		}
		if !bytes.HasPrefix(pdf, minimalPDF(i+1)) {
			t.Fatalf("document %d: the original is not a prefix of the signed PDF", i)
		}
		_, sigs := testpki.Pdfsig(t, db, pdf)
		if len(sigs) != 1 {
			t.Fatalf("document %d: %d signatures", i, len(sigs))
		}
		if s := sigs[0]; !s.Valid || !s.Trusted || !s.Total || !s.CAdES || s.CN != citizenName {
			t.Fatalf("document %d: pdfsig valid=%v trusted=%v total=%v cades=%v cn=%q\n%s", i, s.Valid, s.Trusted, s.Total, s.CAdES, s.CN, s.Text)
		}
		if i == 0 && w.font != nil && !bytes.Contains(pdf, []byte("/AP <<")) {
			t.Fatal("document 0 asked for a visible signature and has no appearance")
		}
	}
	if _, err := w.service.SignedPDF(ctx, "other-client", r.ID, 0); !errors.Is(err, signing.ErrNotFound) {
		t.Fatalf("another client's download: %v", err)
	}

	var ev signing.CallbackEvent
	if err := json.Unmarshal([]byte(w.hook.wait(t)), &ev); err != nil || ev.ID != r.ID || ev.Status != signing.StatusSigned || ev.Version != done.Version {
		t.Fatalf("callback %+v (%v), want signed v%d", ev, err, done.Version)
	}

	// A second request reuses the citizen's key and certificate.
	r2 := w.create(1, nil)
	if _, err := w.service.Approve(ctx, r2.ID, citizenID, subjectFor, hashes(r2)); err != nil {
		t.Fatal(err)
	}
	if n := w.ca.issued.Load(); n != 1 {
		t.Fatalf("CA issued %d certificates for one citizen", n)
	}
	if _, err := w.service.Approve(ctx, r2.ID, citizenID, subjectFor, hashes(r2)); !errors.Is(err, signing.ErrNotPending) {
		t.Fatalf("second approval: %v", err)
	}
}

func TestApproveRace(t *testing.T) {
	w := newWorld(t)
	r := w.create(2, nil)
	const racers = 16
	errs := make([]error, racers)
	got := make([]signing.Request, racers)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			got[i], errs[i] = w.service.Approve(context.Background(), r.ID, citizenID, subjectFor, hashes(r))
		}()
	}
	close(gate)
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
			if got[i].Status != signing.StatusSigned {
				t.Fatalf("winner left %s", got[i].Status)
			}
		case errors.Is(err, signing.ErrNotPending):
		default:
			t.Fatalf("racer %d: %v", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d approvals won", wins)
	}
	if n := w.vault.calls.Load(); n != 2 {
		t.Fatalf("vault signed %d times for 2 documents", n)
	}
}

func TestApproveWrongHashes(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	r := w.create(2, nil)
	bad := hashes(r)
	bad[1] = hex.EncodeToString(make([]byte, 32))
	for name, h := range map[string][]string{"one changed": bad, "one missing": bad[:1], "swapped": {r.Documents[1].SHA256, r.Documents[0].SHA256}} {
		if _, err := w.service.Approve(ctx, r.ID, citizenID, subjectFor, h); !errors.Is(err, signing.ErrMismatch) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := w.service.Approve(ctx, r.ID, "intruder", func(string) string { return "x" }, hashes(r)); !errors.Is(err, signing.ErrForbidden) {
		t.Fatalf("intruder: %v", err)
	}
	got, _ := w.service.Get(ctx, clientID, r.ID)
	if got.Status != signing.StatusPending || w.vault.calls.Load() != 0 {
		t.Fatalf("status %s, vault calls %d", got.Status, w.vault.calls.Load())
	}
	// Upper-case hex is the same approval.
	up := hashes(r)
	for i := range up {
		up[i] = string(bytes.ToUpper([]byte(up[i])))
	}
	if done, err := w.service.Approve(ctx, r.ID, citizenID, subjectFor, up); err != nil || done.Status != signing.StatusSigned {
		t.Fatalf("upper-case hashes: %v %s", err, done.Status)
	}
}

// TestResumeAfterCrash: the vault fails on its second signature (the documents are signed
// side by side, so either document may be the one); a fresh service's Resume signs that
// one and leaves the other as it was.
func TestResumeAfterCrash(t *testing.T) {
	w := newWorld(t)
	db := testpki.NSSDB(t, w.devCA.Root())
	ctx := context.Background()
	w.vault.failOn = 2
	r := w.create(2, nil)
	mid, err := w.service.Approve(ctx, r.ID, citizenID, subjectFor, hashes(r))
	if err != nil {
		t.Fatal(err)
	}
	signed := 0 // the document signed before the fault
	if mid.Documents[0].SignedAt.IsZero() {
		signed = 1
	}
	if mid.Status != signing.StatusSigning || mid.Documents[signed].SignedAt.IsZero() || !mid.Documents[1-signed].SignedAt.IsZero() {
		t.Fatalf("after the crash: %s, signed %v %v", mid.Status, mid.Documents[0].SignedAt, mid.Documents[1].SignedAt)
	}
	if _, err := w.service.SignedPDF(ctx, clientID, r.ID, signed); !errors.Is(err, signing.ErrNotSigned) {
		t.Fatalf("half-signed request served a PDF: %v", err)
	}
	first, err := w.store.SignedPDF(ctx, r.ID, signed)
	if err != nil {
		t.Fatal(err)
	}

	fresh := &countingVault{Vault: w.vault.Vault}
	n, err := w.newService(fresh).Resume(ctx)
	if err != nil || n != 1 {
		t.Fatalf("resume: %d, %v", n, err)
	}
	if c := fresh.calls.Load(); c != 1 {
		t.Fatalf("resume signed %d times, want 1 (the unsigned document only)", c)
	}
	done, _ := w.service.Get(ctx, clientID, r.ID)
	if done.Status != signing.StatusSigned || done.Attempts != 2 {
		t.Fatalf("after resume: %s, attempts %d", done.Status, done.Attempts)
	}
	again, _ := w.service.SignedPDF(ctx, clientID, r.ID, signed)
	if !bytes.Equal(again, first) {
		t.Fatal("the document signed before the fault was signed again")
	}
	for i := range 2 {
		pdf, _ := w.service.SignedPDF(ctx, clientID, r.ID, i)
		if _, s := testpki.Pdfsig(t, db, pdf); len(s) != 1 || !s[0].Valid || !s[0].Trusted {
			t.Fatalf("document %d after resume not valid: %+v", i, s)
		}
	}
	// Nothing left to resume.
	if n, _ := w.newService(fresh).Resume(ctx); n != 0 {
		t.Fatalf("resumed %d more", n)
	}
}

// A run that died holding its lease is taken over only once the lease has run out, and a
// document stored but not yet marked is not signed again.
func TestResumeRespectsLease(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.vault.failOn = 2
	r := w.create(2, nil)
	if _, err := w.service.Approve(ctx, r.ID, citizenID, subjectFor, hashes(r)); err != nil {
		t.Fatal(err)
	}
	// Simulate a crash between storing document 0's signature and marking it, with the
	// lease still held by the dead run.
	if _, err := w.store.UpdateSigningRequest(ctx, r.ID, func(old signing.Request) (signing.Request, error) {
		old.Documents[0].SignedAt, old.Documents[0].SignedSHA = time.Time{}, ""
		old.Worker, old.LeaseUntil = "dead-run", w.clock.Now().Add(2*time.Minute)
		return old, nil
	}); err != nil {
		t.Fatal(err)
	}
	fresh := &countingVault{Vault: w.vault.Vault}
	svc := w.newService(fresh)
	if n, _ := svc.Resume(ctx); n != 0 {
		t.Fatal("took over a held lease")
	}
	w.clock.Advance(3 * time.Minute)
	if n, err := svc.Resume(ctx); n != 1 || err != nil {
		t.Fatalf("resume: %d %v", n, err)
	}
	if c := fresh.calls.Load(); c != 1 {
		t.Fatalf("signed %d times, want 1", c)
	}
	done, _ := svc.Get(ctx, clientID, r.ID)
	if done.Status != signing.StatusSigned || done.Documents[0].SignedSHA == "" {
		t.Fatalf("after resume: %+v", done)
	}
}

func TestExpiry(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	r := w.create(1, nil)
	w.clock.Advance(16 * time.Minute)
	if _, err := w.service.Approve(ctx, r.ID, citizenID, subjectFor, hashes(r)); !errors.Is(err, signing.ErrExpired) {
		t.Fatalf("late approval: %v", err)
	}
	got, _ := w.service.Get(ctx, clientID, r.ID)
	if got.Status != signing.StatusExpired || w.vault.calls.Load() != 0 {
		t.Fatalf("status %s, vault calls %d", got.Status, w.vault.calls.Load())
	}
	if _, err := w.service.Approve(ctx, r.ID, citizenID, subjectFor, hashes(r)); !errors.Is(err, signing.ErrExpired) {
		t.Fatalf("approval of an expired request: %v", err)
	}
	var ev signing.CallbackEvent
	json.Unmarshal([]byte(w.hook.wait(t)), &ev)
	if ev.Status != signing.StatusExpired {
		t.Fatalf("callback %+v", ev)
	}

	r2 := w.create(1, nil)
	w.clock.Advance(16 * time.Minute)
	if n, err := w.service.ExpireDue(ctx); n != 1 || err != nil {
		t.Fatalf("ExpireDue: %d %v", n, err)
	}
	if got, _ := w.service.Get(ctx, clientID, r2.ID); got.Status != signing.StatusExpired {
		t.Fatalf("after ExpireDue: %s", got.Status)
	}
}

func TestBadInput(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	good := minimalPDF(1)
	zeroPages := bytes.Replace(minimalPDF(1), []byte("/Kids [5 0 R ] /Count 1"), []byte("/Kids [      ] /Count 0"), 1)
	tests := []struct {
		name  string
		pdfs  [][]byte
		index int
		code  string
		mod   func(*signing.CreateInput)
	}{
		{"not a PDF", [][]byte{good, []byte("<html>hello</html>")}, 1, signing.CodeNotPDF, nil},
		{"empty", [][]byte{{}}, 0, signing.CodeNotPDF, nil},
		{"truncated", [][]byte{good[:len(good)/2]}, 0, signing.CodeDamaged, nil},
		{"broken xref", [][]byte{bytes.Replace(good, []byte("startxref\n"), []byte("startxref\n9"), 1)}, 0, signing.CodeDamaged, nil},
		{"zero pages", [][]byte{good, good, zeroPages}, 2, signing.CodeNoPages, nil},
		{"huge /Size", [][]byte{bytes.Replace(good, []byte("/Size 7"), []byte("/Size 9999999999"), 1)}, 0, signing.CodeDamaged, nil},
		{"too many", make([][]byte, 11), -1, signing.CodeTooMany, nil},
		{"none", nil, -1, signing.CodeNoDocuments, nil},
		{"placement off the document", [][]byte{good}, 0, signing.CodeBadPlacement, func(in *signing.CreateInput) {
			in.Documents[0].Placement = &signing.Placement{Page: 3, Rect: [4]float64{10, 10, 100, 50}}
		}},
		{"bad level", [][]byte{good}, -1, signing.CodeInvalid, func(in *signing.CreateInput) { in.Level = "B-LTX" }},
	}
	if _, err := exec.LookPath("qpdf"); err == nil {
		enc := qpdf(t, good, "--encrypt", "u", "o", "256", "--")
		tests = append(tests, struct {
			name  string
			pdfs  [][]byte
			index int
			code  string
			mod   func(*signing.CreateInput)
		}{"user password", [][]byte{enc}, 0, signing.CodePasswordRequired, nil})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := signing.CreateInput{ClientID: clientID, Subject: subject, IdempotencyKey: "k-" + tt.name}
			for _, p := range tt.pdfs {
				if p == nil {
					p = good
				}
				in.Documents = append(in.Documents, signing.DocumentInput{Title: "t", PDF: p})
			}
			if tt.mod != nil {
				tt.mod(&in)
			}
			_, err := w.service.Create(ctx, in)
			var ie *signing.InputError
			if !errors.As(err, &ie) || ie.Code != tt.code || ie.Index != tt.index {
				t.Fatalf("got %v, want %s at %d", err, tt.code, tt.index)
			}
		})
	}
	if list, _ := w.service.List(ctx, clientID, "", 100); len(list) != 0 {
		t.Fatalf("bad input stored %d requests", len(list))
	}
	// The service still works after bad input.
	if r := w.create(1, nil); r.Status != signing.StatusPending {
		t.Fatal(r.Status)
	}
}

func qpdf(t *testing.T, in []byte, args ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	src, dst := dir+"/in.pdf", dir+"/out.pdf"
	if err := os.WriteFile(src, in, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("qpdf", append(append([]string{}, args...), src, dst)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Fatalf("qpdf: %v\n%s", err, out)
		}
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTooLarge(t *testing.T) {
	w := newWorld(t)
	svc, err := signing.NewService(signing.ServiceConfig{Store: w.store, Vault: w.vault, CA: w.ca, Citizens: citizens{}, MaxDocumentSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	big := append(minimalPDF(1), bytes.Repeat([]byte("%pad\n"), 400)...)
	_, err = svc.Create(context.Background(), signing.CreateInput{ClientID: clientID, Subject: subject, Documents: []signing.DocumentInput{{PDF: big}}})
	var ie *signing.InputError
	if !errors.As(err, &ie) || ie.Code != signing.CodeTooLarge {
		t.Fatalf("got %v", err)
	}
	// Without a TSA, the default level is B-B and B-T is refused.
	r, err := svc.Create(context.Background(), signing.CreateInput{ClientID: clientID, Subject: subject, Documents: []signing.DocumentInput{{PDF: minimalPDF(1)}}})
	if err != nil || r.Level != signing.LevelBB {
		t.Fatalf("default level without a TSA: %v %s", err, r.Level)
	}
	_, err = svc.Create(context.Background(), signing.CreateInput{ClientID: clientID, Subject: subject, Level: signing.LevelBT, Documents: []signing.DocumentInput{{PDF: minimalPDF(1)}}})
	if !errors.As(err, &ie) || ie.Code != signing.CodeUnsupportedLevel {
		t.Fatalf("B-T without a TSA: %v", err)
	}
}

func TestIdempotentCreate(t *testing.T) {
	w := newWorld(t)
	key := func(in *signing.CreateInput) { in.IdempotencyKey = "retry-1" }
	a := w.create(2, key)
	b := w.create(2, key)
	if a.ID != b.ID {
		t.Fatalf("retry made a second request: %s %s", a.ID, b.ID)
	}
	_, err := w.service.Create(context.Background(), signing.CreateInput{ClientID: clientID, Subject: subject, IdempotencyKey: "retry-1",
		Documents: []signing.DocumentInput{{Title: "khác", PDF: minimalPDF(3)}}})
	if !errors.Is(err, signing.ErrConflict) {
		t.Fatalf("same key, other content: %v", err)
	}
}

// Revocation: key compromise refuses signing; superseded gets a new certificate.
func TestRevokedCertificate(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	r := w.create(1, nil)
	if done, err := w.service.Approve(ctx, r.ID, citizenID, subjectFor, hashes(r)); err != nil || done.Status != signing.StatusSigned {
		t.Fatalf("first: %v", err)
	}
	cert, err := w.store.CitizenCert(ctx, citizenID)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := new(big.Int).SetString(cert.Serial, 16)

	if err := w.devCA.Revoke(ctx, serial, ca.ReasonSuperseded, time.Time{}); err != nil {
		t.Fatal(err)
	}
	r2 := w.create(1, nil)
	done, err := w.service.Approve(ctx, r2.ID, citizenID, subjectFor, hashes(r2))
	if err != nil || done.Status != signing.StatusSigned {
		t.Fatalf("after superseded: %v %s %s", err, done.Status, done.Failure)
	}
	next, _ := w.store.CitizenCert(ctx, citizenID)
	if next.Serial == cert.Serial || w.ca.issued.Load() != 2 {
		t.Fatalf("no new certificate: serial %s, issued %d", next.Serial, w.ca.issued.Load())
	}

	serial2, _ := new(big.Int).SetString(next.Serial, 16)
	if err := w.devCA.Revoke(ctx, serial2, ca.ReasonKeyCompromise, time.Time{}); err != nil {
		t.Fatal(err)
	}
	calls := w.vault.calls.Load()
	r3 := w.create(1, nil)
	failed, err := w.service.Approve(ctx, r3.ID, citizenID, subjectFor, hashes(r3))
	if err != nil || failed.Status != signing.StatusFailed || failed.Failure != "certificate revoked" {
		t.Fatalf("after key compromise: %v %s %q", err, failed.Status, failed.Failure)
	}
	if w.vault.calls.Load() != calls {
		t.Fatal("signed with a compromised key")
	}
	if _, err := w.store.SignedPDF(ctx, r3.ID, 0); !errors.Is(err, signing.ErrNotFound) {
		t.Fatalf("a signed PDF was stored: %v", err)
	}
}

func TestWaitCancelRejectList(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	r := w.create(1, nil)
	start := time.Now()
	same, err := w.service.Wait(ctx, clientID, r.ID, r.Version, 300*time.Millisecond)
	if err != nil || same.Version != r.Version || time.Since(start) < 250*time.Millisecond {
		t.Fatalf("wait without change: %v v%d after %v", err, same.Version, time.Since(start))
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		w.service.Cancel(ctx, clientID, r.ID, "")
	}()
	got, err := w.service.Wait(ctx, clientID, r.ID, r.Version, 10*time.Second)
	if err != nil || got.Status != signing.StatusCanceled {
		t.Fatalf("wait: %v %s", err, got.Status)
	}
	if again, err := w.service.Cancel(ctx, clientID, r.ID, ""); err != nil || again.Status != signing.StatusCanceled {
		t.Fatalf("second cancel: %v", err)
	}
	if _, err := w.service.Approve(ctx, r.ID, citizenID, subjectFor, hashes(r)); !errors.Is(err, signing.ErrNotPending) {
		t.Fatalf("approve canceled: %v", err)
	}
	if _, err := w.service.Cancel(ctx, "other", r.ID, ""); !errors.Is(err, signing.ErrNotFound) {
		t.Fatalf("other client's cancel: %v", err)
	}

	w.clock.Advance(time.Second) // newest first
	r2 := w.create(1, nil)
	rej, err := w.service.Reject(ctx, r2.ID, citizenID, subjectFor)
	if err != nil || rej.Status != signing.StatusRejected {
		t.Fatalf("reject: %v", err)
	}
	if _, err := w.service.Cancel(ctx, clientID, r2.ID, ""); !errors.Is(err, signing.ErrFinal) {
		t.Fatalf("cancel rejected: %v", err)
	}
	list, err := w.service.List(ctx, clientID, subject, 0)
	if err != nil || len(list) != 2 || list[0].ID != r2.ID {
		t.Fatalf("list: %v %d", err, len(list))
	}
}
