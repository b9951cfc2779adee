// Package httpapi is the HTTP surface of remote signing: the REST API under /signing/v1 that
// relying parties call (multipart create, status with long-poll, list, cancel, download,
// QR codes, the OpenAPI document) and the citizen's approval page under /sign/{id}.
//
// It depends on two ports defined here, Service (the signing service) and Auth (tokens and
// browser sessions from the OpenID provider), so it can be tested with fakes and wired by
// the server. Errors on the API are RFC 9457 problem documents with stable type URIs under
// https://motlan.vn/problems/; their detail never carries personal data or wrapped causes.
package httpapi
