package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/testpg"
)

// openPostgres opens a store in a fresh PostgreSQL schema, closed when t ends.
func openPostgres(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{Driver: DriverPostgres, DSN: testpg.DSN(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// groupLogin is a first-time login of citizen n, with its session, code and once mark.
func groupLogin(n, sess, once string) store.Login {
	now := time.Now()
	return store.Login{
		Citizen: store.Citizen{ID: "cit-" + n, Issuer: "https://eid.example.vn", Subject: "sub-" + n, CCCD: "001099012345"},
		Session: store.Session{ID: sess, AuthTime: now, ACR: "2", CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		Code: &store.AuthCode{ID: "code-" + sess, ClientID: "portal", RedirectURI: "https://portal.example.vn/cb",
			CreatedAt: now, ExpiresAt: now.Add(time.Minute)},
		Once: &store.Once{Namespace: "motlan:upstream", Key: once, ExpiresAt: now.Add(time.Minute)},
	}
}

// holdGroup runs a group whose only member waits until the returned release is called,
// so that the next transactions queue behind it.
func holdGroup(t *testing.T, s *Store) (release func()) {
	t.Helper()
	started, held := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.inGroupedTx(context.Background(), false, func(tx pipedTx) error {
			close(started)
			<-held
			return nil
		})
	}()
	<-started
	return func() {
		close(held)
		if err := <-done; err != nil {
			t.Errorf("the holding group: %v", err)
		}
	}
}

// waitPending waits until n transactions queue for one of s's groups.
func waitPending(t *testing.T, s *Store, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d transactions queued for a group", n), func() bool {
		s.groups.mu.Lock()
		defer s.groups.mu.Unlock()
		return len(s.groups.pending) == n
	})
}

// groupCounts reads s's group counters.
func groupCounts(s *Store) (groups, jobs, alone int64) {
	k := &s.groups
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.groups, k.jobs, k.alone
}

// TestGroupedLogins: on PostgreSQL, logins that queue behind a running group run as one
// group. When one member fails (a once mark replayed by another member,
// a session ID already stored, a panic), the group is rolled back and every member runs
// again alone: each caller sees the outcome it would have alone, and a failed login
// stores nothing.
func TestGroupedLogins(t *testing.T) {
	ctx := context.Background()
	s := openPostgres(t)
	if _, err := s.RecordLogin(ctx, groupLogin("stored", "sess-stored", "state-stored")); err != nil {
		t.Fatal(err)
	}
	const n = 8
	for _, tc := range []struct {
		name string
		bad  int // the member that fails (-1: none)
		// twin, if not -1, is a member whose once mark bad uses too: one of the two fails.
		twin int
		edit func(l *store.Login, p string)
		want string // what the failed member's error says
	}{
		{"every member succeeds", -1, -1, nil, ""},
		{"a once mark used before", 5, -1, func(l *store.Login, _ string) { l.Once.Key = "state-stored" }, "already used"},
		{"a once mark another member uses", 5, 2, func(l *store.Login, p string) { l.Once.Key = "state-" + p + "-2" }, "already used"},
		{"a session ID already stored", 3, -1, func(l *store.Login, _ string) { l.Session.ID = "sess-stored" }, "conflict"},
		{"a panic", 6, -1, func(l *store.Login, _ string) {
			l.Audit = func(store.Citizen) ([]store.AuditRecord, error) { panic("a bug") }
		}, "panic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			groups0, jobs0, alone0 := groupCounts(s)
			release := holdGroup(t, s)
			p := strings.ReplaceAll(tc.name, " ", "_")
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				l := groupLogin(fmt.Sprintf("%s-%d", p, i), fmt.Sprintf("sess-%s-%d", p, i), fmt.Sprintf("state-%s-%d", p, i))
				if i == tc.bad {
					tc.edit(&l, p)
				}
				wg.Go(func() { _, errs[i] = s.RecordLogin(ctx, l) })
			}
			waitPending(t, s, n)
			release()
			wg.Wait()

			failed := tc.bad
			if tc.twin >= 0 && errs[tc.bad] == nil {
				failed = tc.twin // the twin's login came second, alone
			}
			for i := range n {
				cit, sess := fmt.Sprintf("cit-%s-%d", p, i), fmt.Sprintf("sess-%s-%d", p, i)
				_, citErr := s.GetCitizen(ctx, cit)
				_, sessErr := s.GetSession(ctx, sess)
				if i == failed {
					if errs[i] == nil || !strings.Contains(errs[i].Error(), tc.want) {
						t.Errorf("member %d: %v, want an error saying %q", i, errs[i], tc.want)
					}
					if !errors.Is(citErr, store.ErrNotFound) || !errors.Is(sessErr, store.ErrNotFound) {
						t.Errorf("member %d failed, yet its citizen: %v, its session: %v", i, citErr, sessErr)
					}
					continue
				}
				if errs[i] != nil || citErr != nil || sessErr != nil {
					t.Errorf("member %d: %v; stored citizen: %v, session: %v", i, errs[i], citErr, sessErr)
				}
			}
			groups, jobs, alone := groupCounts(s)
			// The holder's group, then one of all n members.
			if groups-groups0 != 2 || jobs-jobs0 != n+1 {
				t.Errorf("%d transactions in %d groups, want %d in 2", jobs-jobs0, groups-groups0, n+1)
			}
			if wantAlone := map[bool]int64{true: 0, false: n}[tc.bad < 0]; alone-alone0 != wantAlone {
				t.Errorf("%d members ran again alone, want %d", alone-alone0, wantAlone)
			}
		})
	}
}

// TestGroupLockTimeout: a group that waits for a row another transaction keeps locked
// gives up after groupLockTimeout, and its members run again alone: the first-time
// logins grouped with a returning citizen's whose row is locked are stored while the lock
// is still held; the returning citizen's login waits for the lock alone, then succeeds.
func TestGroupLockTimeout(t *testing.T) {
	ctx := context.Background()
	s := openPostgres(t)
	if _, err := s.RecordLogin(ctx, groupLogin("locked", "sess-locked-1", "state-locked-1")); err != nil {
		t.Fatal(err)
	}
	lock, err := s.w.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	if _, err := lock.ExecContext(ctx, "SELECT id FROM citizens WHERE id = $1 FOR UPDATE", "cit-locked"); err != nil {
		t.Fatal(err)
	}

	release := holdGroup(t, s)
	lockedDone := make(chan error, 1)
	go func() {
		_, err := s.RecordLogin(ctx, groupLogin("locked", "sess-locked-2", "state-locked-2"))
		lockedDone <- err
	}()
	waitPending(t, s, 1)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = s.RecordLogin(ctx, groupLogin(fmt.Sprintf("new-%d", i), fmt.Sprintf("sess-new-%d", i), fmt.Sprintf("state-new-%d", i)))
		})
	}
	waitPending(t, s, 1+len(errs))
	release()
	stored := make(chan struct{})
	go func() { wg.Wait(); close(stored) }()
	select {
	case <-stored:
	case <-time.After(20 * time.Second):
		t.Fatal("the first-time logins still wait behind the locked row after 20 s")
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("first-time login %d behind the locked row: %v", i, err)
		}
	}
	select {
	case err := <-lockedDone:
		t.Fatalf("the locked citizen's login ended while its row was locked: %v", err)
	default:
	}
	if err := lock.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-lockedDone; err != nil {
		t.Fatalf("the locked citizen's login after the lock: %v", err)
	}
	if _, err := s.GetSession(ctx, "sess-locked-2"); err != nil {
		t.Fatalf("its session: %v", err)
	}
	if _, _, alone := groupCounts(s); alone != int64(1+len(errs)) {
		t.Errorf("%d logins ran again alone, want %d", alone, 1+len(errs))
	}
}

// TestGroupedRedemptionsAndRefreshes: codes redeemed in one group, two members racing
// for the same code: one redeems it and the other is told it was used, without the group
// running again (an unclaimed code is an outcome, not a failure); then the refresh
// tokens rotated in one group, one of them revoked: that member's failed claim
// (ErrNotFound) makes the others run again alone, and each of them rotates its own token.
func TestGroupedRedemptionsAndRefreshes(t *testing.T) {
	ctx := context.Background()
	s := openPostgres(t)
	const n = 6
	for i := range n {
		if _, err := s.RecordLogin(ctx, groupLogin(fmt.Sprint(i), fmt.Sprintf("sess-%d", i), fmt.Sprintf("state-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	token := func(id string, i int) store.RefreshToken {
		return store.RefreshToken{ID: id, FamilyID: fmt.Sprintf("code-sess-%d", i), ClientID: "portal",
			CitizenID: fmt.Sprintf("cit-%d", i), SessionID: fmt.Sprintf("sess-%d", i), Scopes: []string{"openid", "offline_access"},
			AuthTime: now, ACR: "2", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	}

	groups0, jobs0, alone0 := groupCounts(s)
	release := holdGroup(t, s)
	errs := make([]error, n+1)
	var wg sync.WaitGroup
	for i := range n + 1 {
		code := fmt.Sprintf("code-sess-%d", min(i, n-1)) // the last two race for one code
		wg.Go(func() {
			_, errs[i] = s.RedeemAuthCode(ctx, code, func(ac store.AuthCode, citizen func() (store.Citizen, error)) (store.Redemption, error) {
				if _, err := citizen(); err != nil {
					return store.Redemption{}, err
				}
				t := token(fmt.Sprintf("rt-%d", i), min(i, n-1))
				return store.Redemption{Refresh: &t}, nil
			})
		})
	}
	waitPending(t, s, n+1)
	release()
	wg.Wait()
	used := 0
	for i, err := range errs {
		switch {
		case i >= n-1 && errors.Is(err, store.ErrAlreadyUsed):
			used++
		case err != nil:
			t.Errorf("redemption %d: %v", i, err)
		}
	}
	if used != 1 {
		t.Errorf("%d of the two redemptions of one code were told it was used, want 1 (%v)", used, errs[n-1:])
	}
	groups, jobs, alone := groupCounts(s)
	if groups-groups0 != 2 || jobs-jobs0 != n+2 || alone != alone0 {
		t.Errorf("%d redemptions in %d groups, %d again alone; want %d in 2, none alone", jobs-jobs0, groups-groups0, alone-alone0, n+2)
	}

	revoked := token("rt-revoked", 2)
	revoked.Revoked = true
	if err := s.CreateRefreshToken(ctx, revoked); err != nil {
		t.Fatal(err)
	}
	release = holdGroup(t, s)
	rotated := make([]error, n)
	for i := range n {
		old := fmt.Sprintf("rt-%d", i)
		switch {
		case i == 2:
			old = revoked.ID
		case i == n-1 && errs[i] != nil:
			old = fmt.Sprintf("rt-%d", n) // the racing redemption that won
		}
		next := token(fmt.Sprintf("rt-%d-next", i), min(i, n-1))
		wg.Go(func() {
			rotated[i] = s.RotateRefreshTokenWith(ctx, old, func(store.RefreshToken, bool, func() (store.Citizen, error)) (store.RefreshToken, store.Minted, error) {
				return next, store.Minted{}, nil
			})
		})
	}
	waitPending(t, s, n)
	release()
	wg.Wait()
	for i, err := range rotated {
		if want := i == 2; errors.Is(err, store.ErrNotFound) != want || (err != nil) != want {
			t.Errorf("rotation %d: %v (want not found: %v)", i, err, want)
		}
		if i == 2 {
			continue
		}
		if _, err := s.GetRefreshToken(ctx, fmt.Sprintf("rt-%d-next", i)); err != nil {
			t.Errorf("rotation %d's next token: %v", i, err)
		}
	}
	if _, _, alone1 := groupCounts(s); alone1-alone != n {
		t.Errorf("%d rotations ran again alone, want %d", alone1-alone, n)
	}
	refreshesWithDecisions(t, s, token)
}

// refreshesWithDecisions: refreshes that read, decide and rotate in one transaction
// share a group; a refusal or an unknown token is an outcome, not a failure, and two
// members that spend one token fail the group, whose members then run alone: one
// rotates, the other's decision sees the token spent or, if the two reruns overlap, its
// claim finds it used.
func refreshesWithDecisions(t *testing.T, s *Store, token func(string, int) store.RefreshToken) {
	ctx := context.Background()
	refused, spent := errors.New("refused"), errors.New("spent")
	refresh := func(old, next string, i int, refuse bool) (func(), *error) {
		var err error
		return func() {
			err = s.RotateRefreshTokenWith(ctx, old, func(o store.RefreshToken, live bool, citizen func() (store.Citizen, error)) (store.RefreshToken, store.Minted, error) {
				if c, err := citizen(); err != nil || c.ID != o.CitizenID {
					return store.RefreshToken{}, store.Minted{}, fmt.Errorf("citizen of %s: %q, %v", old, c.ID, err)
				}
				switch {
				case !live:
					return store.RefreshToken{}, store.Minted{}, fmt.Errorf("session of %s not live", old)
				case refuse:
					return store.RefreshToken{}, store.Minted{}, refused
				case !o.UsedAt.IsZero():
					return store.RefreshToken{}, store.Minted{}, spent
				}
				return token(next, i), store.Minted{}, nil
			})
		}, &err
	}
	run := func(fns ...func()) (groups, alone int64) {
		g0, _, a0 := groupCounts(s)
		release := holdGroup(t, s)
		var wg sync.WaitGroup
		for _, fn := range fns {
			wg.Go(fn)
		}
		waitPending(t, s, len(fns))
		release()
		wg.Wait()
		g1, _, a1 := groupCounts(s)
		return g1 - g0, a1 - a0
	}

	ok0, err0 := refresh("rt-0-next", "rt-0-with", 0, false)
	ok1, err1 := refresh("rt-1-next", "rt-1-with", 1, false)
	unknown, errUnknown := refresh("rt-2-next", "rt-2-with", 2, false) // rotation 2 failed above
	refuse, errRefuse := refresh("rt-3-next", "rt-3-with", 3, true)
	// Each run counts the held group too.
	if groups, alone := run(ok0, ok1, unknown, refuse); groups != 2 || alone != 0 {
		t.Errorf("refreshes ran in %d groups, %d again alone; want 2, none alone", groups, alone)
	}
	for name, got := range map[string]error{"rotation 0": *err0, "rotation 1": *err1} {
		if got != nil {
			t.Errorf("%s: %v", name, got)
		}
	}
	if !errors.Is(*errUnknown, store.ErrNotFound) || *errRefuse != refused {
		t.Errorf("unknown token: %v, want not found; refused: %v, want the decision", *errUnknown, *errRefuse)
	}
	if _, err := s.GetRefreshToken(ctx, "rt-3-with"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refused rotation stored its token: %v", err)
	}

	a, errA := refresh("rt-0-with", "rt-0-a", 0, false)
	b, errB := refresh("rt-0-with", "rt-0-b", 0, false)
	if groups, alone := run(a, b); groups != 2 || alone != 2 {
		t.Errorf("racing refreshes ran in %d groups, %d again alone; want 2, both again alone", groups, alone)
	}
	lost := errors.Join(*errA, *errB)
	if (*errA == nil) == (*errB == nil) || !(errors.Is(lost, spent) || errors.Is(lost, store.ErrAlreadyUsed)) {
		t.Errorf("racing refreshes: %v and %v, want one rotated and one that saw the token spent", *errA, *errB)
	}
}

// TestGroupScanPanic: a member's scan that panics, read while the group's round trip is
// sent from another member's goroutine, fails that member alone; the group's lock is not
// left held, and the next group runs.
func TestGroupScanPanic(t *testing.T) {
	ctx := context.Background()
	s := openPostgres(t)
	for round := range 2 {
		release := holdGroup(t, s)
		const n = 4
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = s.inGroupedTx(ctx, false, func(tx pipedTx) error {
					return tx.row(func(r scanner) error {
						var one int
						if i == 1 && round == 0 {
							panic("a bug in a scan")
						}
						return r.Scan(&one)
					}, "SELECT 1")
				})
			})
		}
		waitPending(t, s, n)
		release()
		wg.Wait()
		for i, err := range errs {
			if want := i == 1 && round == 0; want != (err != nil) || (want && !strings.Contains(err.Error(), "panic")) {
				t.Errorf("round %d, member %d: %v", round, i, err)
			}
		}
	}
	if groups, jobs, alone := groupCounts(s); groups != 4 || jobs != 10 || alone != 4 {
		t.Errorf("%d groups of %d members, %d again alone; want 4 of 10, 4 alone", groups, jobs, alone)
	}
}

// TestGroupCommitWaitsForFlush: a group's commit waits for the WAL flush unless none of
// its members needs it to: a callback's login grouped with a code's redemption commits
// as the redemption must.
func TestGroupCommitWaitsForFlush(t *testing.T) {
	ctx := context.Background()
	s := openPostgres(t)
	for _, tc := range []struct {
		async []bool
		want  string
	}{
		{[]bool{true, true, true}, "off"},
		{[]bool{true, false, true}, "on"},
		{[]bool{false, false}, "on"},
		{[]bool{true}, "off"},
	} {
		release := holdGroup(t, s)
		got := make([]string, len(tc.async))
		errs := make([]error, len(tc.async))
		var wg sync.WaitGroup
		for i, async := range tc.async {
			wg.Go(func() {
				errs[i] = s.inGroupedTx(ctx, async, func(tx pipedTx) error {
					return tx.row(func(r scanner) error { return r.Scan(&got[i]) }, "SHOW synchronous_commit")
				})
			})
		}
		waitPending(t, s, len(tc.async))
		release()
		wg.Wait()
		for i := range got {
			if errs[i] != nil || got[i] != tc.want {
				t.Errorf("members async %v: member %d's transaction has synchronous_commit %q (%v), want %q", tc.async, i, got[i], errs[i], tc.want)
			}
		}
	}
}

// TestGroupWithoutConnection: a group that gets no connection (the pool closed under it)
// runs none of its members and tells each of them the store is unavailable.
func TestGroupWithoutConnection(t *testing.T) {
	ctx := context.Background()
	s := openPostgres(t)
	release := holdGroup(t, s)
	const n = 3
	errs := make([]error, n)
	ran := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.inGroupedTx(ctx, false, func(pipedTx) error { ran[i] = true; return nil })
		})
	}
	waitPending(t, s, n)
	if err := s.w.db.Close(); err != nil {
		t.Fatal(err)
	}
	release()
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, store.ErrUnavailable) || ran[i] {
			t.Errorf("member %d: %v (ran: %v), want store.ErrUnavailable without running", i, err, ran[i])
		}
	}
}
