package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/testsync"

	"github.com/motlan/motlan/idp/store"
)

// Racers is how many goroutines race for one record.
const Racers = 32

// RunConcurrencyTests checks the atomicity guarantees under real contention.
func RunConcurrencyTests(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		run  func(e *env)
	}{
		{"ConsumeAuthCodeOnce", testConcurrentConsume},
		{"RotateRefreshTokenOnce", testConcurrentRotate},
		{"RotateRefreshTokenAgainOneLive", testConcurrentRotateAgain},
		{"RotateAgainRacesSuccessorRotation", testConcurrentRetryVsSuccessor},
		{"UpdateAuthRequestLosesNothing", testConcurrentUpdate},
		{"UpsertCitizenMergesAll", testConcurrentUpsertCitizen},
		{"DeleteAuthRequestOnce", testConcurrentDelete},
		{"UseAssertionOnce", testConcurrentAssertion},
		{"RecordLoginOnce", testConcurrentRecordLoginOnce},
		{"RedeemAuthCodeOnce", testConcurrentRedeem},
		{"ConsumePushedRequestOnce", testConcurrentConsumePushed},
		{"SessionClientsWhileIssuing", testConcurrentSessionClients},
		{"CreateTokenKeyOnce", testConcurrentCreateTokenKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(setup(t, newStore))
		})
	}
}

func testConcurrentConsume(e *env) {
	c := authCode("code-race")
	must(e.t, "create", e.s.CreateAuthCode(e.ctx, c))
	got := make([]store.AuthCode, Racers)
	errs := testsync.Race(Racers, func(i int) error {
		var err error
		got[i], err = e.s.ConsumeAuthCode(e.ctx, c.ID)
		return err
	})
	winners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
			equal(e.t, "winner's code", got[i], c)
		case errors.Is(err, store.ErrAlreadyUsed):
			equal(e.t, "loser's record", got[i], c)
		default:
			e.t.Errorf("racer %d: %v", i, err)
		}
	}
	if winners != 1 {
		e.t.Errorf("%d winners, want exactly 1", winners)
	}
}

// testConcurrentDelete: a login transaction is single-use because exactly one deleter wins.
func testConcurrentDelete(e *env) {
	must(e.t, "create", e.s.CreateAuthRequest(e.ctx, authRequest("ar-race", "up-race")))
	errs := testsync.Race(Racers, func(int) error { return e.s.DeleteAuthRequest(e.ctx, "ar-race") })
	testsync.OneWinner(e.t, "delete one auth request", errs, store.ErrNotFound)
}

func testConcurrentRotate(e *env) {
	old := refresh("rt-race", "fam-race")
	must(e.t, "create", e.s.CreateRefreshToken(e.ctx, old))
	errs := testsync.Race(Racers, func(i int) error {
		return rotate(e, old.ID, refresh(fmt.Sprintf("rt-next-%d", i), "fam-race"))
	})
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				e.t.Errorf("racers %d and %d both rotated", winner, i)
			}
			winner = i
		case errors.Is(err, store.ErrAlreadyUsed):
		default:
			e.t.Errorf("racer %d: %v", i, err)
		}
	}
	if winner < 0 {
		e.t.Fatal("no racer rotated")
	}
	for i := range Racers {
		_, err := e.s.GetRefreshToken(e.ctx, fmt.Sprintf("rt-next-%d", i))
		if i == winner && err != nil {
			e.t.Errorf("winner's token: %v", err)
		}
		if i != winner && !errors.Is(err, store.ErrNotFound) {
			e.t.Errorf("loser %d's token stored (err %v)", i, err)
		}
	}
}

// testConcurrentRotateAgain: racing retries of one rotated token all succeed (each replaces
// the last), but they are serialized, so the family ends with exactly one live token.
func testConcurrentRotateAgain(e *env) {
	old := refresh("rt-race", "fam-race")
	must(e.t, "create", e.s.CreateRefreshToken(e.ctx, old))
	must(e.t, "rotate", rotate(e, old.ID, refresh("rt-first", "fam-race")))
	errs := testsync.Race(Racers, func(i int) error {
		return e.s.RotateRefreshTokenAgain(e.ctx, old.ID, refresh(fmt.Sprintf("rt-retry-%d", i), "fam-race"))
	})
	for i, err := range errs {
		if err != nil {
			e.t.Errorf("racer %d: %v", i, err)
		}
	}
	got, err := e.s.GetRefreshToken(e.ctx, old.ID)
	must(e.t, "get old", err)
	live := 0
	for i := range Racers {
		id := fmt.Sprintf("rt-retry-%d", i)
		t, err := e.s.GetRefreshToken(e.ctx, id)
		must(e.t, "get "+id, err)
		if !t.Revoked {
			live++
			if id != got.SuccessorID {
				e.t.Errorf("live token %s is not the recorded successor %s", id, got.SuccessorID)
			}
		}
	}
	if first, err := e.s.GetRefreshToken(e.ctx, "rt-first"); err != nil || !first.Revoked {
		e.t.Errorf("first successor: revoked %v, err %v", first.Revoked, err)
	}
	if live != 1 {
		e.t.Errorf("%d live tokens in the family, want 1", live)
	}
}

// testConcurrentRetryVsSuccessor: a retry of the old token and a rotation of its successor
// race; exactly one wins, so the family never has two live branches.
func testConcurrentRetryVsSuccessor(e *env) {
	for round := range 8 {
		fam := fmt.Sprintf("fam-%d", round)
		old, succ := refresh("old-"+fam, fam), refresh("succ-"+fam, fam)
		must(e.t, "create", e.s.CreateRefreshToken(e.ctx, old))
		must(e.t, "rotate", rotate(e, old.ID, succ))
		errs := testsync.Race(2, func(i int) error {
			if i == 0 {
				return e.s.RotateRefreshTokenAgain(e.ctx, old.ID, refresh("retry-"+fam, fam))
			}
			return rotate(e, succ.ID, refresh("next-"+fam, fam))
		})
		retryWon, rotateWon := errs[0] == nil, errs[1] == nil
		if retryWon == rotateWon {
			e.t.Fatalf("round %d: retry err %v, successor rotation err %v; want exactly one winner", round, errs[0], errs[1])
		}
		if !retryWon && !errors.Is(errs[0], store.ErrAlreadyUsed) {
			e.t.Errorf("round %d: losing retry: %v, want ErrAlreadyUsed", round, errs[0])
		}
		if !rotateWon && !errors.Is(errs[1], store.ErrNotFound) {
			e.t.Errorf("round %d: losing rotation: %v, want ErrNotFound (revoked)", round, errs[1])
		}
	}
}

// testConcurrentUpdate uses MaxAge as a counter: a lost update shows as a short count.
func testConcurrentUpdate(e *env) {
	const perRacer = 4
	r := authRequest("ar-race", "")
	r.MaxAge = 0
	must(e.t, "create", e.s.CreateAuthRequest(e.ctx, r))
	errs := testsync.Race(Racers, func(int) error {
		for range perRacer {
			_, err := e.s.UpdateAuthRequest(e.ctx, r.ID, func(a store.AuthRequest) (store.AuthRequest, error) {
				a.MaxAge++
				return a, nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	for i, err := range errs {
		if err != nil {
			e.t.Errorf("racer %d: %v", i, err)
		}
	}
	got, err := e.s.GetAuthRequest(e.ctx, r.ID)
	must(e.t, "get", err)
	if got.MaxAge != Racers*perRacer {
		e.t.Errorf("counter = %d, want %d", got.MaxAge, Racers*perRacer)
	}
}

// testConcurrentUpsertCitizen has every racer log the same new citizen in with its own
// attribute: one citizen must result, holding all of them.
func testConcurrentUpsertCitizen(e *env) {
	ids := make([]string, Racers)
	errs := testsync.Race(Racers, func(i int) error {
		c := citizen("sub-race")
		c.ID = fmt.Sprintf("cit-race-%d", i)
		c.Attributes = map[string]store.Attribute{fmt.Sprintf("attr_%d", i): attr(`"Lê Công Hảo"`, 1)}
		got, err := e.s.UpsertCitizen(e.ctx, c)
		ids[i] = got.ID
		return err
	})
	for i, err := range errs {
		if err != nil {
			e.t.Fatalf("racer %d: %v", i, err)
		}
	}
	for i, id := range ids {
		if id != ids[0] {
			e.t.Fatalf("racer %d got citizen %q, racer 0 %q", i, id, ids[0])
		}
	}
	got, err := e.s.GetCitizen(e.ctx, ids[0])
	must(e.t, "get", err)
	if len(got.Attributes) != Racers {
		e.t.Errorf("%d attributes, want %d", len(got.Attributes), Racers)
	}
}

func testConcurrentAssertion(e *env) {
	exp := e.clock.Now().Add(time.Minute)
	errs := testsync.Race(Racers, func(int) error { return e.s.UseAssertion(e.ctx, "portal", "jti-race", exp) })
	testsync.OneWinner(e.t, "use one assertion", errs, store.ErrAlreadyUsed)
}

func testConcurrentRecordLoginOnce(e *env) {
	once := &store.Once{Namespace: "motlan:upstream", Key: "state-race", ExpiresAt: e.clock.Now().Add(time.Minute)}
	errs := testsync.Race(Racers, func(i int) error {
		_, err := e.s.RecordLogin(e.ctx, store.Login{Citizen: citizen("once-race"), Session: session(fmt.Sprintf("sess-once-race-%d", i)), Once: once})
		return err
	})
	testsync.OneWinner(e.t, "record one login per once", errs, store.ErrAlreadyUsed)
	stored := 0
	for i := range Racers {
		if _, err := e.s.GetSession(e.ctx, fmt.Sprintf("sess-once-race-%d", i)); err == nil {
			stored++
		}
	}
	if stored != 1 {
		e.t.Errorf("%d sessions stored, want 1", stored)
	}
}

func testConcurrentConsumePushed(e *env) {
	r := authRequest("ar-pushed", "")
	must(e.t, "create", e.s.CreatePushedRequest(e.ctx, "pr-race", r, e.clock.Now().Add(time.Minute)))
	errs := testsync.Race(Racers, func(int) error {
		_, err := e.s.ConsumePushedRequest(e.ctx, "pr-race", r.ClientID)
		return err
	})
	testsync.OneWinner(e.t, "consume one pushed request", errs, store.ErrNotFound)
}

func testConcurrentRedeem(e *env) {
	c := authCode("code-redeem-race")
	must(e.t, "create", e.s.CreateAuthCode(e.ctx, c))
	errs := testsync.Race(Racers, func(i int) error {
		t := refresh(fmt.Sprintf("rt-race-%d", i), c.ID)
		_, err := e.s.RedeemAuthCode(e.ctx, c.ID, func(store.AuthCode, func() (store.Citizen, error)) (store.Redemption, error) {
			return store.Redemption{Refresh: &t}, nil
		})
		return err
	})
	winners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
			if _, gerr := e.s.GetRefreshToken(e.ctx, fmt.Sprintf("rt-race-%d", i)); gerr != nil {
				e.t.Errorf("winner's refresh token: %v", gerr)
			}
		case errors.Is(err, store.ErrAlreadyUsed):
			if _, gerr := e.s.GetRefreshToken(e.ctx, fmt.Sprintf("rt-race-%d", i)); !errors.Is(gerr, store.ErrNotFound) {
				e.t.Errorf("loser %d stored a refresh token", i)
			}
		default:
			e.t.Errorf("racer %d: %v", i, err)
		}
	}
	if winners != 1 {
		e.t.Errorf("%d redemptions of one code, want exactly 1", winners)
	}
}

// testConcurrentSessionClients lists a session's clients while codes and refresh tokens
// for it are issued: every listing is sorted, duplicate-free and a subset of the clients,
// and the listing after the writes holds every one.
func testConcurrentSessionClients(e *env) {
	const clients = Racers / 4
	errs := testsync.Race(Racers, func(i int) error {
		id := fmt.Sprintf("client-%d", i/4%clients) // each client gets a code and a token
		if i%4 == 0 {
			c := authCode(fmt.Sprintf("code-%d", i))
			c.ClientID = id
			return e.s.CreateAuthCode(e.ctx, c)
		}
		if i%4 == 1 {
			t := refresh(fmt.Sprintf("rt-%d", i), fmt.Sprintf("fam-%d", i))
			t.ClientID = id
			return e.s.CreateRefreshToken(e.ctx, t)
		}
		got, err := e.s.SessionClients(e.ctx, "sess-1")
		if err != nil {
			return err
		}
		for j, c := range got {
			if j > 0 && got[j-1] >= c {
				return fmt.Errorf("listing not sorted or has duplicates: %v", got)
			}
		}
		return nil
	})
	for i, err := range errs {
		if err != nil {
			e.t.Errorf("racer %d: %v", i, err)
		}
	}
	got, err := e.s.SessionClients(e.ctx, "sess-1")
	must(e.t, "list", err)
	want := make([]string, 0, clients)
	for i := range clients {
		want = append(want, fmt.Sprintf("client-%d", i))
	}
	equal(e.t, "clients", got, want)
}

// testConcurrentCreateTokenKey: replicas creating the scheduled key of one period race on
// one key ID; exactly one stores its key, and the stored record is the winner's.
func testConcurrentCreateTokenKey(e *env) {
	keys := make([]store.TokenKey, Racers)
	for i := range keys {
		keys[i] = store.TokenKey{ID: "ES256-20260308T000000Z", Alg: "ES256", Sealed: []byte{byte(i), 0xff},
			PublicJWK: json.RawMessage(fmt.Sprintf(`{"kty":"EC","kid":"ES256-20260308T000000Z","x":"%d"}`, i)),
			CreatedAt: start, ActiveAt: start.Add(24 * time.Hour)}
	}
	errs := testsync.Race(Racers, func(i int) error { return e.s.CreateTokenKey(e.ctx, keys[i]) })
	testsync.OneWinner(e.t, "create one scheduled token key", errs, store.ErrConflict)
	got, err := e.s.ListTokenKeys(e.ctx)
	must(e.t, "list", err)
	if len(got) != 1 {
		e.t.Fatalf("%d token keys stored, want 1", len(got))
	}
	for i, err := range errs {
		if err == nil {
			equal(e.t, "stored key", got[0], keys[i])
		}
	}
}
