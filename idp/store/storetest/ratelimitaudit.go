package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/testsync"
)

// NewShared returns n stores on one fresh, empty database, as n replicas would open it,
// all reading time from clock. n is at least 1; they register their own cleanup with t.
type NewShared[T any] func(t *testing.T, clock *Clock, n int) []T

// RunRateLimitTests checks store.RateLimits, including its atomicity across instances.
func RunRateLimitTests(t *testing.T, open NewShared[store.RateLimits]) {
	tests := []struct {
		name string
		run  func(t *testing.T, clock *Clock, open NewShared[store.RateLimits])
	}{
		{"UpToLimitThenRetryAfter", testRateLimitWindow},
		{"KeysIndependent", testRateLimitKeys},
		{"DeleteExpired", testRateLimitDeleteExpired},
		{"ConcurrentTakesNeverExceed", testRateLimitConcurrent},
		{"ConcurrentTakesTwoInstances", testRateLimitTwoInstances},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, NewClock(start), open)
		})
	}
}

func take(t *testing.T, s store.RateLimits, key string, limit int, window time.Duration, now time.Time) (bool, time.Duration) {
	t.Helper()
	ok, retry, err := s.TakeRateLimit(t.Context(), key, limit, window, now)
	if err != nil {
		t.Fatalf("take %s: %v", key, err)
	}
	return ok, retry
}

func testRateLimitWindow(t *testing.T, clock *Clock, open NewShared[store.RateLimits]) {
	s := open(t, clock, 1)[0]
	now := clock.Now() // 08:30:15.123: the minute window ends at 08:31:00
	for i := range 3 {
		if ok, retry := take(t, s, "k", 3, time.Minute, now.Add(time.Duration(i)*time.Second)); !ok || retry != 0 {
			t.Fatalf("take %d: allowed %v, retry %v; want allowed, 0", i+1, ok, retry)
		}
	}
	ok, retry := take(t, s, "k", 3, time.Minute, now.Add(5*time.Second))
	if want := 39877 * time.Millisecond; ok || retry != want {
		t.Fatalf("4th take: allowed %v, retry %v; want denied, %v", ok, retry, want)
	}
	// Denied takes keep being denied until the window ends.
	if ok, _ := take(t, s, "k", 3, time.Minute, now.Add(44*time.Second)); ok {
		t.Fatal("take late in the window allowed")
	}
	if ok, _ := take(t, s, "k", 3, time.Minute, now.Add(45*time.Second)); !ok {
		t.Fatal("first take of the next window denied")
	}
}

func testRateLimitKeys(t *testing.T, clock *Clock, open NewShared[store.RateLimits]) {
	s := open(t, clock, 1)[0]
	now := clock.Now()
	if ok, _ := take(t, s, "a", 1, time.Hour, now); !ok {
		t.Fatal("a denied")
	}
	if ok, _ := take(t, s, "a", 1, time.Hour, now); ok {
		t.Fatal("a allowed twice")
	}
	if ok, _ := take(t, s, "b", 1, time.Hour, now); !ok {
		t.Fatal("b denied after a was used up")
	}
	if ok, retry := take(t, s, "a", 1, time.Hour, now); ok || retry != 29*time.Minute+44*time.Second+877*time.Millisecond {
		t.Fatalf("a: allowed %v, retry %v", ok, retry)
	}
}

func testRateLimitDeleteExpired(t *testing.T, clock *Clock, open NewShared[store.RateLimits]) {
	s := open(t, clock, 1)[0]
	ctx := t.Context()
	now := clock.Now()
	take(t, s, "short", 1, time.Minute, now)
	take(t, s, "long", 1, time.Hour, now)
	take(t, s, "short", 1, time.Minute, now) // denied: still one row
	n, err := s.DeleteExpiredRateLimits(ctx, now.Add(time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("delete expired: %d, %v; want 1 row (the minute window)", n, err)
	}
	// The hour window's counter survived: still used up.
	if ok, _ := take(t, s, "long", 1, time.Hour, now.Add(time.Minute)); ok {
		t.Fatal("the live hour window was deleted")
	}
	n, err = s.DeleteExpiredRateLimits(ctx, now.Add(2*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("delete expired later: %d, %v; want 1", n, err)
	}
}

// testRateLimitConcurrent: Racers takes of one key at once, in several rounds, allow
// exactly limit each round.
func testRateLimitConcurrent(t *testing.T, clock *Clock, open NewShared[store.RateLimits]) {
	s := open(t, clock, 1)[0]
	rateLimitRace(t, []store.RateLimits{s}, clock.Now())
}

func testRateLimitTwoInstances(t *testing.T, clock *Clock, open NewShared[store.RateLimits]) {
	rateLimitRace(t, open(t, clock, 2), clock.Now())
}

func rateLimitRace(t *testing.T, stores []store.RateLimits, now time.Time) {
	const limit = 5
	for round := range 3 {
		at := now.Add(time.Duration(round) * time.Minute)
		allowed := make([]bool, Racers)
		errs := testsync.Race(Racers, func(i int) error {
			var err error
			allowed[i], _, err = stores[i%len(stores)].TakeRateLimit(context.Background(), "race", limit, time.Minute, at)
			return err
		})
		n := 0
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d, racer %d: %v", round, i, err)
			}
			if allowed[i] {
				n++
			}
		}
		if n != limit {
			t.Errorf("round %d: %d of %d racers on %d instances allowed, want exactly %d", round, n, Racers, len(stores), limit)
		}
	}
}

// RunAuditTests checks store.Audit, including appends from several instances at once.
func RunAuditTests(t *testing.T, open NewShared[store.Audit]) {
	tests := []struct {
		name string
		run  func(t *testing.T, clock *Clock, open NewShared[store.Audit])
	}{
		{"AppendChainsAndRoundTrips", testAuditAppend},
		{"SealErrorStoresNothing", testAuditSealError},
		{"ListPages", testAuditList},
		{"ConcurrentAppendsTwoInstances", testAuditConcurrent},
		{"PendingSealedInOrder", testAuditPending},
		{"ConcurrentLoginsAndSealersTwoInstances", testAuditPendingConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, NewClock(start), open)
		})
	}
}

// testSeal is a stand-in for the audit package's canonical hash: the store only needs a
// function of the record that it must call with Seq and PrevHash already set.
func testSeal(r store.AuditRecord) (string, error) {
	h := sha256.New()
	for _, f := range []string{strconv.FormatInt(r.Seq, 10), strconv.FormatInt(r.At.UnixMilli(), 10), r.Kind, r.Actor, string(r.Details), r.PrevHash} {
		fmt.Fprintf(h, "%d:%s,", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func auditRecord(i int, at time.Time) store.AuditRecord {
	return store.AuditRecord{
		At: at, Kind: "login", Actor: fmt.Sprintf("citizen:c%d", i),
		// Spacing and key order are kept byte for byte: the hash covers these bytes.
		Details: json.RawMessage(fmt.Sprintf(`{"z": %d,  "a":"Thanh Hóa"}`, i)),
	}
}

func appendOne(ctx context.Context, s store.Audit, r store.AuditRecord) (store.AuditRecord, error) {
	out, err := s.AppendAudit(ctx, []store.AuditRecord{r}, testSeal)
	if err != nil {
		return store.AuditRecord{}, err
	}
	if len(out) != 1 {
		return store.AuditRecord{}, fmt.Errorf("append of one record returned %d", len(out))
	}
	return out[0], nil
}

// checkChain verifies seq, links and hashes of recs, which must be the whole log.
func checkChain(t *testing.T, recs []store.AuditRecord) {
	t.Helper()
	prev := ""
	for i, r := range recs {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
		if r.PrevHash != prev {
			t.Fatalf("seq %d: prev %q, want %q", r.Seq, r.PrevHash, prev)
		}
		if h, _ := testSeal(r); r.Hash != h {
			t.Fatalf("seq %d: stored hash %s does not match its content (%s)", r.Seq, r.Hash, h)
		}
		prev = r.Hash
	}
}

func testAuditAppend(t *testing.T, clock *Clock, open NewShared[store.Audit]) {
	s := open(t, clock, 1)[0]
	ctx := t.Context()
	if seq, hash, err := s.AuditHead(ctx); err != nil || seq != 0 || hash != "" {
		t.Fatalf("empty head: %d %q %v", seq, hash, err)
	}
	var appended []store.AuditRecord
	for i := range 3 {
		r, err := appendOne(ctx, s, auditRecord(i, clock.Now().In(ict)))
		must(t, "append", err)
		appended = append(appended, r)
		clock.Advance(time.Second)
	}
	got, err := s.ListAudit(ctx, 0, 100)
	must(t, "list", err)
	equal(t, "listed records", got, appended)
	checkChain(t, got)
	if string(got[1].Details) != `{"z": 1,  "a":"Thanh Hóa"}` || got[1].At != start.Add(time.Second) {
		t.Errorf("record 2 came back as %s at %v", got[1].Details, got[1].At)
	}
	seq, hash, err := s.AuditHead(ctx)
	if err != nil || seq != 3 || hash != got[2].Hash {
		t.Errorf("head: %d %q %v; want 3 %q", seq, hash, err, got[2].Hash)
	}
}

func testAuditSealError(t *testing.T, clock *Clock, open NewShared[store.Audit]) {
	s := open(t, clock, 1)[0]
	ctx := t.Context()
	_, err := appendOne(ctx, s, auditRecord(1, clock.Now()))
	must(t, "append", err)
	boom := errors.New("boom")
	// The second record of a batch fails to seal: the first is not stored either.
	sealSecondFails := func(r store.AuditRecord) (string, error) {
		if r.Seq == 3 {
			return "", boom
		}
		return testSeal(r)
	}
	if _, err := s.AppendAudit(ctx, []store.AuditRecord{auditRecord(2, clock.Now()), auditRecord(3, clock.Now())}, sealSecondFails); !errors.Is(err, boom) {
		t.Fatalf("seal error: %v", err)
	}
	r, err := appendOne(ctx, s, auditRecord(4, clock.Now()))
	must(t, "append after failure", err)
	if r.Seq != 2 {
		t.Errorf("seq after a failed append: %d, want 2 (no gap)", r.Seq)
	}
	got, err := s.ListAudit(ctx, 0, 10)
	must(t, "list", err)
	if len(got) != 2 {
		t.Errorf("%d records after a failed batch, want 2", len(got))
	}
	checkChain(t, got)
}

func testAuditList(t *testing.T, clock *Clock, open NewShared[store.Audit]) {
	s := open(t, clock, 1)[0]
	ctx := t.Context()
	for i := range 7 {
		_, err := appendOne(ctx, s, auditRecord(i, clock.Now()))
		must(t, "append", err)
	}
	var all []store.AuditRecord
	after := int64(0)
	for {
		page, err := s.ListAudit(ctx, after, 3)
		must(t, "list", err)
		if len(page) > 3 {
			t.Fatalf("page of %d, limit 3", len(page))
		}
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		after = page[len(page)-1].Seq
	}
	if len(all) != 7 {
		t.Fatalf("paged through %d records, want 7", len(all))
	}
	checkChain(t, all)
}

// testAuditConcurrent: two instances append at once; the chain must come out whole, with
// no two records on one seq and no fork.
func testAuditConcurrent(t *testing.T, clock *Clock, open NewShared[store.Audit]) {
	stores := open(t, clock, 2)
	// Half the racers append one record, half a batch of three.
	errs := testsync.Race(Racers, func(i int) error {
		batch := []store.AuditRecord{auditRecord(i, clock.Now())}
		if i%2 == 1 {
			batch = append(batch, auditRecord(1000+i, clock.Now()), auditRecord(2000+i, clock.Now()))
		}
		_, err := stores[i%2].AppendAudit(context.Background(), batch, testSeal)
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("appender %d: %v", i, err)
		}
	}
	want := Racers + Racers // Racers/2 singles and Racers/2 batches of three
	got, err := stores[1].ListAudit(t.Context(), 0, 1000)
	must(t, "list", err)
	if len(got) != want {
		t.Fatalf("%d records, want %d", len(got), want)
	}
	checkChain(t, got)
	actors := map[string]bool{}
	for i, r := range got {
		actors[r.Actor] = true
		// A batch's records stay together, in order: no other appender's record between.
		var n int
		if _, err := fmt.Sscanf(r.Actor, "citizen:c%d", &n); err == nil && n >= 1000 && n < 2000 {
			if i == 0 || i+1 >= len(got) || got[i-1].Actor != fmt.Sprintf("citizen:c%d", n-1000) || got[i+1].Actor != fmt.Sprintf("citizen:c%d", n+1000) {
				t.Errorf("batch of appender %d was split or reordered at seq %d", n-1000, r.Seq)
			}
		}
	}
	if len(actors) != want {
		t.Errorf("%d distinct records, want %d", len(actors), want)
	}
	seq, hash, err := stores[0].AuditHead(t.Context())
	if err != nil || seq != int64(want) || hash != got[want-1].Hash {
		t.Errorf("head %d %q %v, want the last record", seq, hash, err)
	}
}

// logins returns s as store.Logins: pending audit records are written by the acts.
func logins(t *testing.T, s store.Audit) store.Logins {
	t.Helper()
	l, ok := s.(store.Logins)
	if !ok {
		t.Fatalf("%T writes no pending audit records: it is not a store.Logins", s)
	}
	return l
}

// auditedLogin is a login of citizen sub whose audit record names the stored citizen.
func auditedLogin(sub, sessID string, at time.Time) store.Login {
	return store.Login{
		Citizen: store.Citizen{Issuer: "https://eid.example.vn", Subject: sub, CCCD: "001099012345"},
		Session: store.Session{ID: sessID, AuthTime: at, ACR: "2", CreatedAt: at, ExpiresAt: at.Add(time.Hour)},
		Audit: func(c store.Citizen) ([]store.AuditRecord, error) {
			return []store.AuditRecord{{At: at, Kind: "login", Actor: "citizen:" + c.ID, Details: json.RawMessage(`{"session":"` + sessID + `"}`)}}, nil
		},
	}
}

// testAuditPending: an act's records wait, pending, until sealed into the chain after the
// records appended before; a failed act leaves none; a failed seal leaves them pending.
func testAuditPending(t *testing.T, clock *Clock, open NewShared[store.Audit]) {
	s := open(t, clock, 1)[0]
	ctx := t.Context()
	if got, err := s.SealPendingAudit(ctx, 10, testSeal); err != nil || len(got) != 0 {
		t.Fatalf("seal with nothing pending: %v %v", got, err)
	}
	first, err := appendOne(ctx, s, auditRecord(0, clock.Now()))
	must(t, "append", err)
	l := logins(t, s)
	at := clock.Now().Add(time.Second)
	c, err := l.RecordLogin(ctx, auditedLogin("pending-1", "sess-pending-1", at))
	must(t, "login", err)
	_, err = l.RecordLogin(ctx, auditedLogin("pending-2", "sess-pending-1", at)) // the session ID is taken
	wantErr(t, "failed login", err, store.ErrConflict)
	n, oldest, err := s.PendingAudit(ctx)
	if err != nil || n != 1 || !oldest.Equal(at.Truncate(time.Millisecond)) {
		t.Fatalf("pending: %d, oldest %v, %v; want 1 at %v", n, oldest, err, at)
	}
	boom := errors.New("boom")
	if _, err := s.SealPendingAudit(ctx, 10, func(store.AuditRecord) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Fatalf("failing seal: %v", err)
	}
	if n, _, _ := s.PendingAudit(ctx); n != 1 {
		t.Fatalf("%d pending after a failed seal, want 1", n)
	}
	_, err = l.RecordLogin(ctx, auditedLogin("pending-3", "sess-pending-3", at.Add(time.Second)))
	must(t, "second login", err)
	sealed, err := s.SealPendingAudit(ctx, 1, testSeal) // one at a time
	must(t, "seal one", err)
	if len(sealed) != 1 || sealed[0].Actor != "citizen:"+c.ID || sealed[0].Seq != 2 || sealed[0].PrevHash != first.Hash {
		t.Fatalf("sealed %+v, want the first login's record as seq 2 after %s", sealed, first.Hash)
	}
	more, err := s.SealPendingAudit(ctx, 10, testSeal)
	must(t, "seal the rest", err)
	if len(more) != 1 || more[0].Seq != 3 || string(more[0].Details) != `{"session":"sess-pending-3"}` {
		t.Fatalf("sealed %+v, want the second login's record as seq 3", more)
	}
	if n, oldest, err := s.PendingAudit(ctx); err != nil || n != 0 || !oldest.IsZero() {
		t.Errorf("pending after sealing: %d %v %v", n, oldest, err)
	}
	// An append seals what is pending first: the log keeps the order the acts committed.
	_, err = l.RecordLogin(ctx, auditedLogin("pending-4", "sess-pending-4", at.Add(2*time.Second)))
	must(t, "third login", err)
	last, err := appendOne(ctx, s, auditRecord(5, clock.Now()))
	must(t, "append after a login", err)
	if last.Seq != 5 {
		t.Errorf("appended record has seq %d, want 5 (after the pending login's)", last.Seq)
	}
	if n, _, _ := s.PendingAudit(ctx); n != 0 {
		t.Errorf("%d pending after an append, want 0", n)
	}
	got, err := s.ListAudit(ctx, 0, 10)
	must(t, "list", err)
	if len(got) != 5 || string(got[3].Details) != `{"session":"sess-pending-4"}` {
		t.Fatalf("log %+v: want the third login's record as seq 4", got)
	}
	equal(t, "log", got[:3], []store.AuditRecord{first, sealed[0], more[0]})
	checkChain(t, got)
}

// testAuditPendingConcurrent: logins on two instances write pending records while both
// seal and append: every login's record ends in one unbroken chain, exactly once.
func testAuditPendingConcurrent(t *testing.T, clock *Clock, open NewShared[store.Audit]) {
	stores := open(t, clock, 2)
	at := clock.Now()
	errs := testsync.Race(Racers, func(i int) error {
		s := stores[i%2]
		switch i % 4 {
		case 0:
			_, err := s.SealPendingAudit(context.Background(), 3, testSeal)
			return err
		case 1:
			_, err := s.AppendAudit(context.Background(), []store.AuditRecord{auditRecord(i, at)}, testSeal)
			return err
		}
		_, err := logins(t, s).RecordLogin(context.Background(), auditedLogin(fmt.Sprintf("race-%d", i), fmt.Sprintf("sess-race-%d", i), at))
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("racer %d: %v", i, err)
		}
	}
	for {
		sealed, err := stores[0].SealPendingAudit(t.Context(), 5, testSeal)
		must(t, "seal the rest", err)
		if len(sealed) == 0 {
			break
		}
	}
	got, err := stores[1].ListAudit(t.Context(), 0, 1000)
	must(t, "list", err)
	checkChain(t, got)
	sessions := map[string]int{}
	for _, r := range got {
		if r.Kind == "login" && strings.HasPrefix(string(r.Details), `{"session"`) {
			sessions[string(r.Details)]++
		}
	}
	want := 0
	for i := range Racers {
		if i%4 >= 2 {
			want++
			if n := sessions[fmt.Sprintf(`{"session":"sess-race-%d"}`, i)]; n != 1 {
				t.Errorf("login %d has %d audit records, want 1", i, n)
			}
		}
	}
	if len(sessions) != want {
		t.Errorf("%d login records, want %d", len(sessions), want)
	}
}
