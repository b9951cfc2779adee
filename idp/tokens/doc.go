// Package tokens owns the provider's own JWTs: minting the ID token and the RFC 9068
// access token of a grant (claims release recorded and audited), verifying an access
// token the provider issued (signature, typ, issuer, expiry, revocation by jti or by its
// refresh-token family), and the values that name a citizen or session to clients without
// revealing them: the pairwise subject, sid, the family reference and the sealed citizen
// reference inside access tokens. The endpoints that hand tokens out or take them back
// live in grants, revocation and resource; they all mint and verify here.
package tokens
