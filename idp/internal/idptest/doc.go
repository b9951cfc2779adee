// Package idptest is the test harness of the provider's packages: one real Provider on
// SQLite with real keys and a fake eID, registered clients of every authentication method,
// and the helpers that drive it over HTTP (a browser with a cookie jar, the login round
// trip, token requests, response checks). Only tests import it.
package idptest
