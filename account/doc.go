// Package account is the citizen's own page, /me (Decree 13/2023/ND-CP: the data
// subject's rights to be informed, to access, to withdraw consent and to delete): what
// Motlan released to which portal, the consents and sessions (withdrawn or ended here),
// every signing request with its signed documents and their verification, the signing
// certificate (revoked here when the phone is lost), a download of everything Motlan holds
// about the citizen, and the deletion request.
//
// The page is Vietnamese first with an English switch, sized for a phone, and served
// with the same security headers as Motlan's other pages (a per-response CSP nonce,
// frame-ancestors 'none', no-store). Every POST carries a CSRF token bound to the
// citizen; revoking the certificate and deleting need a fresh level-2 login.
//
// Ids in URLs and forms (a signing request, a session handle, a client) are always looked
// up among the logged-in citizen's own records, so another citizen's id answers 404,
// exactly like an id that does not exist: nothing tells whether it exists.
package account
