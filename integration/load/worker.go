package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/motlan/motlan/adapters/vneid/sim"
	"golang.org/x/oauth2"
)

// ---- one worker: a browser plus the relying party's back channel ----

type worker struct {
	d       *driver
	id      int
	jar     *splitJar
	http    *http.Client
	citizen string
	chain   chain
}

func (w *worker) get(ctx context.Context, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return w.http.Do(req)
}

// redirect GETs u and returns the Location of its 302/303; anything else is an error.
func (w *worker) redirect(ctx context.Context, step, u string) (*url.URL, error) {
	resp, err := w.get(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return nil, fmt.Errorf("%s: want a redirect, got HTTP %d: %q", step, resp.StatusCode, b)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	loc, err := resp.Location()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	return loc, nil
}

// maxHops bounds the broker's own redirects within one step (Motlan makes none; Dex goes
// through its connector page and its approval step).
const maxHops = 4

// follow GETs u and the broker's further redirects until one leads to a URL starting with
// want, which it returns; a redirect elsewhere is an error.
func (w *worker) follow(ctx context.Context, step, u, want string) (*url.URL, error) {
	for range maxHops {
		loc, err := w.redirect(ctx, step, u)
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(loc.String(), want) {
			return loc, nil
		}
		if loc.Host != w.d.st.MotlanHost {
			return nil, fmt.Errorf("%s: the broker sent the browser to %s, want %s", step, loc.Redacted(), want)
		}
		u = loc.String()
	}
	return nil, fmt.Errorf("%s: more than %d redirects", step, maxHops)
}

// login is one complete federated login as the relying party and the browser see it:
// authorize at Motlan, log in at the eID, Motlan's callback, the code at the relying
// party's redirect URI, the token exchange with PKCE, and the ID token verified by go-oidc
// (signature, issuer, audience, expiry, nonce, at_hash).
func (w *worker) login(ctx context.Context, cccd string) (res opResult, _ *chain, _ error) {
	d := w.d
	var acc atomic.Int64
	ctx = context.WithValue(ctx, timerKey{}, &acc)
	res.steps = make([]time.Duration, len(loginSteps))
	t := time.Now()
	lap := func(k int) {
		now := time.Now()
		res.steps[k], t = now.Sub(t), now
		res.motlan = time.Duration(acc.Load())
	}
	w.jar.motlan = newJar() // a new browser as far as Motlan is concerned: no session
	if !d.o.EIDSSO {
		w.jar.eid = newJar()
	}
	state, nonce, verifier := randSecret(), randSecret(), oauth2.GenerateVerifier()
	authURL := d.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))

	loc, err := w.follow(ctx, "authorize", authURL, d.st.EIDURL+"/")
	lap(0)
	if err != nil {
		return res, nil, err
	}
	// The eID: the minimal one redirects straight back; the dev eID too with the worker's
	// eID session, otherwise it shows the password and one-time-code pages (sim.Login
	// handles both).
	var cb *url.URL
	if d.o.EID == "minimal" {
		cb, err = w.redirect(ctx, "eID", loc.String())
	} else {
		cb, err = sim.Login(ctx, w.http, loc.String(), cccd, sim.DevPassword)
	}
	lap(1)
	if err != nil {
		return res, nil, fmt.Errorf("eID: %w", err)
	}
	if cb.Host != d.st.MotlanHost {
		return res, nil, fmt.Errorf("eID: returned to %s, not to the broker", cb.Redacted())
	}
	final, err := w.follow(ctx, "callback", cb.String(), rpRedirect+"?")
	lap(2)
	if err != nil {
		return res, nil, err
	}
	q := final.Query()
	switch {
	case !strings.HasPrefix(final.String(), rpRedirect+"?"):
		return res, nil, fmt.Errorf("callback: sent to %s, not to the relying party", final.Redacted())
	case q.Get("error") != "":
		return res, nil, fmt.Errorf("callback: error=%s: %s", q.Get("error"), q.Get("error_description"))
	case q.Get("state") != state:
		return res, nil, errors.New("callback: state mismatch")
	case q.Get("iss") != d.st.Issuer && (d.o.Target == "motlan" || q.Has("iss")): // Dex sends none
		return res, nil, fmt.Errorf("callback: iss %q", q.Get("iss"))
	case q.Get("code") == "":
		return res, nil, errors.New("callback: no code")
	}
	tctx := context.WithValue(ctx, oauth2.HTTPClient, d.client)
	tok, err := d.oauth.Exchange(tctx, q.Get("code"), oauth2.VerifierOption(verifier))
	lap(3)
	if err != nil {
		return res, nil, fmt.Errorf("token: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := d.verifier.Verify(oidc.ClientContext(ctx, d.client), raw)
	if err != nil {
		return res, nil, fmt.Errorf("ID token: %w", err)
	}
	if idt.Nonce != nonce {
		return res, nil, errors.New("ID token: nonce mismatch")
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		return res, nil, fmt.Errorf("ID token: at_hash: %w", err)
	}
	lap(4)
	if tok.RefreshToken == "" {
		return res, nil, errors.New("token: no refresh token")
	}
	return res, &chain{refresh: tok.RefreshToken, sub: idt.Subject}, nil
}

// refresh rotates the worker's refresh token once and verifies the new ID token.
func (w *worker) refresh(ctx context.Context) (res opResult, _ error) {
	d := w.d
	if w.chain.refresh == "" {
		return res, errors.New("refresh: this worker has no refresh token (fewer logins than workers)")
	}
	var acc atomic.Int64
	ctx = context.WithValue(ctx, timerKey{}, &acc)
	res.steps = make([]time.Duration, len(refreshSteps))
	t0 := time.Now()
	tctx := context.WithValue(ctx, oauth2.HTTPClient, d.client)
	tok, err := d.oauth.TokenSource(tctx, &oauth2.Token{RefreshToken: w.chain.refresh}).Token()
	res.motlan = time.Duration(acc.Load())
	res.steps[0] = time.Since(t0)
	if err != nil {
		w.chain.refresh = ""
		return res, fmt.Errorf("refresh: %w", err)
	}
	if tok.RefreshToken == "" || tok.RefreshToken == w.chain.refresh {
		w.chain.refresh = ""
		return res, errors.New("refresh: the refresh token was not rotated")
	}
	w.chain.refresh = tok.RefreshToken
	t1 := time.Now()
	raw, _ := tok.Extra("id_token").(string)
	idt, err := d.verifier.Verify(oidc.ClientContext(ctx, d.client), raw)
	if err != nil {
		return res, fmt.Errorf("refresh: ID token: %w", err)
	}
	if idt.Subject != w.chain.sub {
		return res, fmt.Errorf("refresh: ID token sub %q, the login's was %q", idt.Subject, w.chain.sub)
	}
	res.steps[1] = time.Since(t1)
	return res, nil
}
