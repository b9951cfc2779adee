package sqlstore_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/idp/store"
)

// BenchmarkStore measures the operations on the login path. A federated login does about
// eight store operations, so their sum bounds the broker's CPU budget.
//
//	go test -run '^$' -bench . -benchmem ./adapters/sqlstore/
func BenchmarkStore(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
			s := be.open(b, func() time.Time { return now })
			ctx := b.Context()
			exp := now.Add(time.Hour)

			b.Run("CreateAuthRequest", func(b *testing.B) {
				round := strconv.FormatInt(time.Now().UnixNano(), 36)
				defer reportCPU(b)()
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					id := round + "-ar-" + strconv.Itoa(i)
					r := store.AuthRequest{ID: id, ClientID: "portal", RedirectURI: "https://dvc.example.vn/cb",
						Scopes: []string{"openid", "profile"}, State: "s", Nonce: "n", CodeChallenge: "c",
						CodeChallengeMethod: "S256", MaxAge: -1, UpstreamState: "up-" + id, CreatedAt: now, ExpiresAt: exp}
					if err := s.CreateAuthRequest(ctx, r); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("UpdateAuthRequest", func(b *testing.B) {
				r := store.AuthRequest{ID: "ar-upd", ClientID: "portal", Scopes: []string{"openid"}, CreatedAt: now, ExpiresAt: exp}
				_ = s.DeleteAuthRequest(ctx, r.ID)
				if err := s.CreateAuthRequest(ctx, r); err != nil {
					b.Fatal(err)
				}
				defer reportCPU(b)()
				b.ReportAllocs()
				for b.Loop() {
					_, err := s.UpdateAuthRequest(ctx, r.ID, func(a store.AuthRequest) (store.AuthRequest, error) {
						a.MaxAge++
						return a, nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("GetAuthRequestByUpstreamState", func(b *testing.B) {
				_ = s.CreateAuthRequest(ctx, store.AuthRequest{ID: "ar-get", ClientID: "portal",
					Scopes: []string{"openid"}, UpstreamState: "up-ar-get", CreatedAt: now, ExpiresAt: exp})
				defer reportCPU(b)()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.GetAuthRequestByUpstreamState(ctx, "up-ar-get"); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("ConsumeAuthCode", func(b *testing.B) {
				// b.Run calls this with growing b.N on one store: keep IDs apart.
				round := strconv.FormatInt(time.Now().UnixNano(), 36)
				id := func(i int) string { return round + "-" + strconv.Itoa(i) }
				for i := range b.N {
					err := s.CreateAuthCode(ctx, store.AuthCode{ID: id(i), ClientID: "portal", CitizenID: "c",
						Scopes: []string{"openid"}, AMR: []string{"pwd"}, CreatedAt: now, ExpiresAt: exp})
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ResetTimer()
				defer reportCPU(b)()
				b.ReportAllocs()
				for i := range b.N {
					if _, err := s.ConsumeAuthCode(ctx, id(i)); err != nil {
						b.Fatal(err)
					}
				}
			})
			// A seal of the pending records of 32 logins (two each): the audit log's write
			// per login, measured without the writes that made them pending.
			b.Run("SealPendingAudit64", func(b *testing.B) {
				recs := make([]store.AuditRecord, 64)
				for i := range recs {
					recs[i] = store.AuditRecord{At: now, Kind: "login", Actor: "citizen:c-" + strconv.Itoa(i),
						Details: json.RawMessage(`{"client_id":"portal","acr":"2"}`)}
				}
				seal := func(r store.AuditRecord) (string, error) { return strconv.FormatInt(r.Seq, 10), nil }
				b.ReportAllocs()
				for range b.N {
					b.StopTimer()
					if err := s.DeleteSession(ctx, "none", recs...); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					if out, err := s.SealPendingAudit(ctx, 1024, seal); err != nil || len(out) != len(recs) {
						b.Fatalf("sealed %d of %d: %v", len(out), len(recs), err)
					}
				}
			})
			// A refresh's transaction: the token read with its session's liveness, the
			// claim and the successor.
			b.Run("RefreshRotation", func(b *testing.B) {
				round := strconv.FormatInt(time.Now().UnixNano(), 36)
				sess := store.Session{ID: "sess-" + round, CitizenID: "c", CreatedAt: now, ExpiresAt: exp}
				if err := s.CreateSession(ctx, sess); err != nil {
					b.Fatal(err)
				}
				tok := func(i int) store.RefreshToken {
					return store.RefreshToken{ID: round + "-rt-" + strconv.Itoa(i), FamilyID: "fam", ClientID: "portal",
						CitizenID: "c", SessionID: sess.ID, Scopes: []string{"openid"}, AMR: []string{"pwd"},
						CreatedAt: now, ExpiresAt: exp}
				}
				if err := s.CreateRefreshToken(ctx, tok(0)); err != nil {
					b.Fatal(err)
				}
				defer reportCPU(b)()
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					next := tok(i + 1)
					err := s.RotateRefreshTokenWith(ctx, tok(i).ID, func(_ store.RefreshToken, live bool, _ func() (store.Citizen, error)) (store.RefreshToken, store.Minted, error) {
						if !live {
							return store.RefreshToken{}, store.Minted{}, errors.New("session not live")
						}
						return next, store.Minted{}, nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
			// The login's main write from 32 concurrent logins: on SQLite they share
			// transactions (batch.go), which this measures against the serial cost.
			b.Run("RecordLoginParallel32", func(b *testing.B) {
				round := strconv.FormatInt(time.Now().UnixNano(), 36)
				var seq atomic.Int64
				b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
				defer reportCPU(b)()
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := strconv.FormatInt(seq.Add(1), 10)
						c := store.Citizen{Issuer: "https://eid.example.vn", Subject: "sub-" + strconv.Itoa(int(seq.Load()%256)),
							CCCD: "001099012345", Attributes: map[string]store.Attribute{
								"name": {Value: json.RawMessage(`"Nguyễn Văn Lĩnh"`), Source: "eid", Level: 2, VerifiedAt: now}}}
						sess := store.Session{ID: round + "-s-" + i, AuthTime: now, ACR: "2", AMR: []string{"pwd"}, CreatedAt: now, ExpiresAt: exp}
						code := store.AuthCode{ID: round + "-c-" + i, ClientID: "portal", Scopes: []string{"openid"},
							AMR: []string{"pwd"}, CreatedAt: now, ExpiresAt: exp}
						once := &store.Once{Namespace: "bench", Key: round + "-" + i, ExpiresAt: exp}
						if _, err := s.RecordLogin(ctx, store.Login{Citizen: c, Session: sess, Code: &code, Once: once}); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
			// A first-time login: every citizen new, so the citizen row is inserted; the
			// eID's subjects are random, and the IDs of sessions and codes take each shape.
			for _, shape := range idShapes {
				b.Run("RecordLoginNewCitizenParallel32/"+shape.name, func(b *testing.B) {
					b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
					defer reportCPU(b)()
					b.ReportAllocs()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							c := store.Citizen{Issuer: "https://eid.example.vn", Subject: rand.Text(),
								CCCD: "001099012345", Attributes: map[string]store.Attribute{
									"name": {Value: json.RawMessage(`"Nguyễn Văn Lĩnh"`), Source: "eid", Level: 2, VerifiedAt: now}}}
							sess := store.Session{ID: shape.id(), AuthTime: now, ACR: "2", AMR: []string{"pwd"}, CreatedAt: now, ExpiresAt: exp}
							code := store.AuthCode{ID: shape.id(), ClientID: "portal", Scopes: []string{"openid"},
								AMR: []string{"pwd"}, CreatedAt: now, ExpiresAt: exp}
							once := &store.Once{Namespace: "bench", Key: shape.id(), ExpiresAt: exp}
							if _, err := s.RecordLogin(ctx, store.Login{Citizen: c, Session: sess, Code: &code, Once: once}); err != nil {
								b.Fatal(err)
							}
						}
					})
				})
			}
			// The token endpoint's store work for a first exchange, from 32 concurrent
			// exchanges: the code redeemed, the citizen read, and the first refresh token,
			// the client's subject, the claim release and its pending audit record stored,
			// in one transaction ("InOneTx"), against the same records written each on its
			// own as before (the release's audit record appended to the log at once).
			for _, oneTx := range []bool{true, false} {
				name := "RedeemAuthCodeParallel32"
				if !oneTx {
					name = "RedeemAuthCodeSeparateWritesParallel32"
				}
				for _, shape := range idShapes {
					b.Run(name+"/"+shape.name, func(b *testing.B) { benchRedeem(b, s, now, oneTx, shape.id) })
				}
			}
			b.Run("UpsertCitizen", func(b *testing.B) {
				c := store.Citizen{Issuer: "https://eid.example.vn", Subject: "sub", CCCD: "001099012345",
					Attributes: map[string]store.Attribute{
						"name":      {Value: json.RawMessage(`"Nguyễn Văn Lĩnh"`), Source: "eid", Level: 2, VerifiedAt: now},
						"birthdate": {Value: json.RawMessage(`"1990-02-03"`), Source: "eid", Level: 2, VerifiedAt: now},
						"address":   {Value: json.RawMessage(`{"formatted":"12 Lê Lợi, Quận 1"}`), Source: "eid", Level: 2, VerifiedAt: now},
					}}
				defer reportCPU(b)()
				b.ReportAllocs()
				for b.Loop() { // the returning citizen: a merge
					if _, err := s.UpsertCitizen(ctx, c); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// idShapes are the shapes of the IDs of sessions, codes and refresh tokens: the SHA-256 of
// a random secret (RandomIDs, as before), and the same behind the secret's time prefix
// (SortedIDs: idp/internal/web.NewSecret and HashID), which puts consecutive rows on the
// index's last page.
var idShapes = []struct {
	name string
	id   func() string
}{
	{"RandomIDs", func() string { return hashHex(rand.Text()) }},
	{"SortedIDs", func() string { return timePrefix(time.Now()) + hashHex(rand.Text()) }},
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// timePrefix is web.NewSecret's: the milliseconds since 1970 in 10 base32hex digits and a dot.
func timePrefix(t time.Time) string {
	const digits = "0123456789abcdefghijklmnopqrstuv"
	var b [11]byte
	v := uint64(t.UnixMilli())
	for i := 9; i >= 0; i-- {
		b[i], v = digits[v&31], v>>5
	}
	b[10] = '.'
	return string(b[:])
}

// reportCPU reports the process's CPU time (user + system) per op, which is what the
// broker's per-login budget is counted in; ns/op is wall time and, for PostgreSQL, mostly
// waiting on the server.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	before := cpu()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64((cpu()-before).Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}

// benchRedeem runs b.N code exchanges' store work from 32 goroutines; see
// RedeemAuthCodeParallel32.
func benchRedeem(b *testing.B, s *sqlstore.Store, now time.Time, oneTx bool, newID func() string) {
	ctx := b.Context()
	exp := now.Add(time.Hour)
	round := strconv.FormatInt(time.Now().UnixNano(), 36)
	cit, err := s.UpsertCitizen(ctx, store.Citizen{Issuer: "https://eid.example.vn", Subject: round + "-rc",
		CCCD: "001099012345", Attributes: map[string]store.Attribute{
			"name": {Value: json.RawMessage(`"Nguyễn Văn Lĩnh"`), Source: "eid", Level: 2, VerifiedAt: now}}})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = newID()
	}
	id := func(i int64) string { return ids[i] }
	for i := range int64(b.N) {
		err := s.CreateAuthCode(ctx, store.AuthCode{ID: id(i), ClientID: "portal", CitizenID: cit.ID,
			Scopes: []string{"openid", "profile"}, AMR: []string{"pwd"}, CreatedAt: now, ExpiresAt: exp})
		if err != nil {
			b.Fatal(err)
		}
	}
	seal := func(r store.AuditRecord) (string, error) {
		sum := sha256.Sum256(append([]byte(r.PrevHash), r.Details...))
		return hex.EncodeToString(sum[:]), nil
	}
	var seq atomic.Int64
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	defer reportCPU(b)()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1) - 1
			var r store.Redemption
			_, err := s.RedeemAuthCode(ctx, id(i), func(c store.AuthCode, citizen func() (store.Citizen, error)) (store.Redemption, error) {
				r = store.Redemption{
					Refresh: &store.RefreshToken{ID: newID(), FamilyID: id(i), ClientID: c.ClientID,
						CitizenID: c.CitizenID, Scopes: c.Scopes, AMR: c.AMR, CreatedAt: now, ExpiresAt: exp},
					Minted: store.Minted{
						Subject: &store.ClientSubject{ClientID: c.ClientID, Subject: id(i) + "-sub", CitizenID: c.CitizenID, At: now},
						Release: &store.Release{CitizenID: c.CitizenID, ClientID: c.ClientID, Claims: []string{"name"}, Via: "id_token", At: now},
						Audit: []store.AuditRecord{{At: now, Kind: "release", Actor: "citizen:" + c.CitizenID,
							Details: json.RawMessage(`{"client":"portal","claims":["name"],"via":"id_token"}`)}},
					},
				}
				if !oneTx {
					return store.Redemption{Refresh: r.Refresh}, nil
				}
				_, err := citizen()
				return r, err
			})
			if err == nil && !oneTx {
				err = s.RecordSubject(ctx, r.Subject.ClientID, r.Subject.Subject, r.Subject.CitizenID, now)
				if err == nil {
					_, err = s.GetCitizen(ctx, cit.ID)
				}
				if err == nil {
					err = s.RecordRelease(ctx, *r.Release)
				}
				if err == nil {
					_, err = s.AppendAudit(ctx, r.Audit, seal)
				}
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
