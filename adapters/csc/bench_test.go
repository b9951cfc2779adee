package csc_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/motlan/motlan/adapters/csc"
	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/keys/ca"
	"github.com/motlan/motlan/keys/vault"
	"github.com/motlan/motlan/signing"
)

// BenchmarkDossier10 signs a dossier of 10 documents (B-B, so no TSA in the figure)
// through the local vault and through the CSC backend against the in-process RSSP over
// loopback, in the same run. The moment the request enters signing splits each approval
// in two: the approval (the citizen's PIN: the CSC backend's one credentials/authorize
// with the 10 signed-attribute digests) and the signing run after it, where the CSC
// backend must make exactly one signatures/signHash carrying all 10 hashes and no other
// call (the benchmark fails otherwise). It reports the provider calls of each phase and
// each phase's time per dossier.
//
//	go test -run '^$' -bench Dossier10 -benchtime 20x ./adapters/csc/
func BenchmarkDossier10(b *testing.B) {
	b.Run("local", func(b *testing.B) {
		ph := &phases{}
		benchDossier(b, localService(b, ph), ph, nil, signing.Activation{})
	})
	b.Run("csc", func(b *testing.B) {
		ph := &phases{}
		w := newWorld(b, "PIN", func(_ *csc.Config, _ *citizens, sc *signing.ServiceConfig) {
			sc.Store = phaseStore{Store: sc.Store.(*sqlstore.Store), ph: ph}
		})
		ph.calls = w.rssp.Calls
		benchDossier(b, w.service, ph, ph.calls, signing.Activation{PIN: pin})
	})
}

func benchDossier(b *testing.B, svc *signing.Service, ph *phases, calls func() map[string]int, act signing.Activation) {
	ctx := context.Background()
	in := signing.CreateInput{ClientID: clientID, Subject: subject, Level: signing.LevelBB}
	for i := range 10 {
		in.Documents = append(in.Documents, signing.DocumentInput{Title: "Tờ khai", PDF: testpki.MinimalPDF(i + 1)})
	}
	if calls == nil {
		calls = func() map[string]int { return nil }
	}
	approval, run := map[string]int{}, map[string]int{}
	var approvalTime, runTime time.Duration
	b.ResetTimer()
	for b.Loop() {
		req, err := svc.Create(ctx, in)
		if err != nil {
			b.Fatal(err)
		}
		before, start := calls(), time.Now()
		done, err := svc.ApproveWith(ctx, req.ID, citizenID, subjectFor, hashesOf(req), act)
		end, after := time.Now(), calls()
		if err != nil || done.Status != signing.StatusSigned {
			b.Fatalf("%v %s %s", err, done.Status, done.Failure)
		}
		atSigning, at := ph.last()
		approvalTime += at.Sub(start)
		runTime += end.Sub(at)
		for m, n := range atSigning {
			approval[m] += n - before[m]
		}
		for m, n := range after {
			if d := n - atSigning[m]; d != 0 && (m != "signatures/signHash" || d != 1) {
				b.Fatalf("the signing run called %s %d times; want one signHash and nothing else", m, d)
			}
			run[m] += n - atSigning[m]
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(approvalTime.Microseconds())/1000/float64(b.N), "approval-ms/op")
	b.ReportMetric(float64(runTime.Microseconds())/1000/float64(b.N), "signing-ms/op")
	if ph.calls == nil {
		return
	}
	for _, m := range []string{"credentials/list", "credentials/authorize", "signatures/signHash"} {
		b.ReportMetric(float64(approval[m])/float64(b.N), "approval-"+m+"/op")
	}
	total := 0
	for _, n := range run {
		total += n
	}
	b.ReportMetric(float64(run["signatures/signHash"])/float64(b.N), "signing-signHash/op")
	b.ReportMetric(float64(total-run["signatures/signHash"])/float64(b.N), "signing-other-calls/op")
}

// phases keeps the provider's call counts and the time at the moment a request last
// entered signing: what came before was the approval's, what comes after the run's.
type phases struct {
	calls func() map[string]int
	mu    sync.Mutex
	at    map[string]int
	when  time.Time
}

func (p *phases) mark() {
	var c map[string]int
	if p.calls != nil {
		c = p.calls()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.at, p.when = c, time.Now()
}

func (p *phases) last() (map[string]int, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.at, p.when
}

// phaseStore is the SQLite store, marking the phases when a request leaves pending for signing.
type phaseStore struct {
	*sqlstore.Store
	ph *phases
}

func (s phaseStore) UpdateSigningRequest(ctx context.Context, id string, fn func(signing.Request) (signing.Request, error)) (signing.Request, error) {
	entered := false
	out, err := s.Store.UpdateSigningRequest(ctx, id, func(old signing.Request) (signing.Request, error) {
		next, err := fn(old)
		entered = err == nil && old.Status == signing.StatusPending && next.Status == signing.StatusSigning
		return next, err
	})
	if err == nil && entered {
		s.ph.mark()
	}
	return out, err
}

// localService is the default backend: the software vault and the dev CA on SQLite.
func localService(b *testing.B, ph *phases) *signing.Service {
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: filepath.Join(b.TempDir(), "m.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	sealer := newSealer(b)
	v, err := vault.NewSoftware(vault.SoftwareConfig{Store: st, Sealer: sealer})
	if err != nil {
		b.Fatal(err)
	}
	dev, err := ca.New(ctx, ca.Config{Storage: &ca.MemStorage{}, Sealer: sealer, BaseURL: "http://127.0.0.1:1", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := signing.NewService(signing.ServiceConfig{Store: phaseStore{Store: st, ph: ph}, Vault: v, CA: dev, Citizens: citizens{cccd: cccd}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { svc.Close() })
	return svc
}
