// Package csc signs through a licensed CA's remote signing service provider (RSSP) over
// the Cloud Signature Consortium API v2.0: it is the signing.Backend selected by
// signing.provider: csc.
//
// One dossier is one authorisation and one signing call: credentials/authorize with
// numSignatures = the documents and hashes = their signed-attribute digests (SCAL2 hash
// binding), made at the citizen's approval (the credential is a signing.Authorizer), then
// signatures/signHash with all of them and that one SAD, made by the signing run through
// Client.Granted (grant.go): the SAD travels sealed on the request with the credential
// id, signAlgo, certificates and the authorised hashes, so the run makes no other call
// and never sends other hashes. Certificates and chains come from credentials/info (or
// credentialInfos of credentials/list).
//
// Mapping a citizen to a credential (documented in the README):
//   - credentials/list is called with userID when Config.UserID is set ("{cccd}" is
//     replaced with the citizen's CCCD, "{id}" with Motlan's citizen id: the RSSP's user
//     id), without it otherwise (the service token is already the citizen's, or the
//     provider lists every credential the client may use);
//   - among what it returns, the credential whose certificate subject carries
//     UID=CCCD:<the citizen's 12 digits> is the citizen's. A certificate of someone else is
//     never used, whatever the user id mapping says.
//
// The RSSP's own step: auth.mode implicit needs nothing; explicit with a Password object
// asks the citizen for the PIN on Motlan's approval page, with an OTP object for the
// one-time code (which credentials/getChallenge asks the provider to send); both go in
// authData. oauth2code is not supported and says so.
//
// Every failure maps to a signing.BackendError code (signing.Failure*): transport errors
// and 5xx to rssp_unavailable, time-outs to rssp_timeout, and the provider's OAuth-style
// errors by code, or for providers that use invalid_request for everything, by the words
// of the specification's descriptions (SAD, PIN, OTP, suspended, revoked). Not checked
// here: the provider's own certificate path (the validator and pdfsig do that on the
// signed PDF) and asynchronous signHash (operationMode "A"): Motlan asks for "S".
package csc
