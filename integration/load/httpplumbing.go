package main

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"sync/atomic"
	"time"
)

type timerKey struct{}

// motlanTimer adds the duration of every round trip to Motlan's host (until the response
// headers arrive) to the *atomic.Int64 carried by the request's context.
type motlanTimer struct {
	host string
	base http.RoundTripper
}

func (t *motlanTimer) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Hostname() != "127.0.0.1" && req.URL.Hostname() != "localhost" {
		return nil, fmt.Errorf("load driver: refusing to contact %s: loopback only", req.URL.Host)
	}
	acc, _ := req.Context().Value(timerKey{}).(*atomic.Int64)
	if acc == nil || req.URL.Host != t.host {
		return t.base.RoundTrip(req)
	}
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	acc.Add(int64(time.Since(start)))
	return resp, err
}

// splitJar keeps Motlan's cookies and the eID's apart (cookie jars ignore ports, and both
// listen on 127.0.0.1), so that a login can start with no Motlan cookie while the worker
// keeps its eID session.
type splitJar struct {
	motlanHost  string
	motlan, eid http.CookieJar
}

func (j *splitJar) jar(u *url.URL) http.CookieJar {
	if u.Host == j.motlanHost {
		return j.motlan
	}
	return j.eid
}
func (j *splitJar) SetCookies(u *url.URL, cs []*http.Cookie) { j.jar(u).SetCookies(u, cs) }
func (j *splitJar) Cookies(u *url.URL) []*http.Cookie        { return j.jar(u).Cookies(u) }

func newJar() http.CookieJar { j, _ := cookiejar.New(nil); return j }
