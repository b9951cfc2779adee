// Package revocation owns what a client may do with tokens it was issued: revoke them
// (RFC 7009: a refresh token ends its whole family and the access tokens minted from
// it) and introspect them (RFC 7662). Only confidential clients may call either, each
// about its own tokens only; clients authenticate through package clientauth.
package revocation
