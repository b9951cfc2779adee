// Package cscserver serves Motlan's own vault as a Cloud Signature Consortium API v2.0
// remote signing service under /csc/v2/: info, credentials/list, credentials/info,
// credentials/getChallenge, credentials/authorize, signatures/signHash and, with a time-stamp
// authority, signatures/timestamp. An existing CSC client can so use a citizen's key held
// by Motlan, and Motlan's own client (adapters/csc) is tested against it in another process.
//
// Service authorisation is an access token from Motlan's own provider with the "service"
// scope, checked as the signing API checks its tokens: a citizen's token (the
// authorization-code flow, with the citizen's consent at Motlan) reaches that citizen's one
// credential, and userID is refused since the token names the user (CSC 11.4); a client's
// own token (client_credentials, for a province's Motlan or another CSC client the operator
// registered) names the citizen by userID = their CCCD. Either way a credential id names its
// citizen under a MAC, and nothing is signed without that citizen's OTP.
//
// Credential authorisation is explicit with an OTP object. The OTP is not sent anywhere:
// the citizen reads it on Motlan's page /csc/otp after a fresh level-2 eID login (the
// step-up the approval page uses); each visit issues a new code (up to 20 per five-minute
// window, recorded in the store), single use, bound to the citizen and the credential, good
// in its window and the next. So every SAD needs the citizen's fresh level-2 login. A
// citizen's credential takes at most 30 credentials/authorize calls in ten minutes (a
// store counter under a MAC of the citizen), so guessing 8-digit codes stays hopeless. getChallenge answers with nothing to send: the code
// is on that page.
//
// The SAD is sealed (AES-GCM under a key derived from the master key) and names the
// citizen, the client, the credential, numSignatures, the exact hashes (SCAL2 hash
// binding) and its expiry; signHash accepts it once (a single-use record in the store, so
// across replicas), only from the client it was issued to, only for those hashes.
//
// Not implemented: signatures/signDoc, asynchronous signing (operationMode "A"),
// credentials/extendTransaction, the oauth2code credential flow with authorization_details,
// RSA-PSS. Errors are OAuth style {"error", "error_description"} with invalid_request for
// bad parameters, as the specification's tables show, and Motlan's specific codes from
// package csc (invalid_otp, expired_sad, ...) where a client must tell failures apart.
package cscserver
