package csc_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/internal/testrssp"
	"github.com/motlan/motlan/keys"
	"github.com/motlan/motlan/keys/ca"
	"github.com/motlan/motlan/keys/vault"
	"github.com/motlan/motlan/signing"
)

// BenchmarkDossier10 signs a dossier of 10 documents (B-B, so no TSA in the figure)
// through the local vault and through the CSC backend against the in-process RSSP over
// loopback. It reports the provider round trips per dossier: the CSC backend makes one
// credentials/list, one credentials/authorize and one signatures/signHash carrying all
// 10 hashes, whatever the number of documents.
//
//	go test -run '^$' -bench Dossier10 -benchtime 20x ./adapters/csc/
func BenchmarkDossier10(b *testing.B) {
	b.Run("local", func(b *testing.B) { benchDossier(b, localService(b), nil) })
	b.Run("csc", func(b *testing.B) {
		w := newWorld(b, "implicit")
		benchDossier(b, w.service, w.rssp)
	})
}

func benchDossier(b *testing.B, svc *signing.Service, r *testrssp.RSSP) {
	ctx := context.Background()
	in := signing.CreateInput{ClientID: clientID, Subject: subject, Level: signing.LevelBB}
	for i := range 10 {
		in.Documents = append(in.Documents, signing.DocumentInput{Title: "Tờ khai", PDF: testpki.MinimalPDF(i + 1)})
	}
	var before map[string]int
	if r != nil {
		before = r.Calls()
	}
	b.ResetTimer()
	for b.Loop() {
		req, err := svc.Create(ctx, in)
		if err != nil {
			b.Fatal(err)
		}
		done, err := svc.ApproveWith(ctx, req.ID, citizenID, subjectFor, hashesOf(req), signing.Activation{})
		if err != nil || done.Status != signing.StatusSigned {
			b.Fatalf("%v %s %s", err, done.Status, done.Failure)
		}
	}
	b.StopTimer()
	if r != nil {
		after := r.Calls()
		for _, m := range []string{"credentials/list", "credentials/authorize", "signatures/signHash"} {
			b.ReportMetric(float64(after[m]-before[m])/float64(b.N), m+"/op")
		}
	}
}

// localService is the default backend: the software vault and the dev CA on SQLite.
func localService(b *testing.B) *signing.Service {
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: filepath.Join(b.TempDir(), "m.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	mk := make([]byte, keys.MasterKeySize)
	rand.Read(mk)
	sealer, err := keys.NewSealer(mk)
	if err != nil {
		b.Fatal(err)
	}
	v, err := vault.NewSoftware(vault.SoftwareConfig{Store: st, Sealer: sealer})
	if err != nil {
		b.Fatal(err)
	}
	dev, err := ca.New(ctx, ca.Config{Storage: &ca.MemStorage{}, Sealer: sealer, BaseURL: "http://127.0.0.1:1", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := signing.NewService(signing.ServiceConfig{Store: st, Vault: v, CA: dev, Citizens: citizens{cccd: cccd}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { svc.Close() })
	return svc
}
