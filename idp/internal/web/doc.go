// Package web is the HTTP plumbing every browser-facing and token-facing part of the
// provider shares: the HTML pages and their texts (Vietnamese first), the error page,
// redirects to validated URIs, cookies, rate-limit answers, and the small request helpers
// (form size bound, echo-safe names, store IDs of secrets, PKCE syntax). It holds no
// protocol decisions: those live in the package of each concern.
package web
