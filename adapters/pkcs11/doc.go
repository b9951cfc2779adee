// Package pkcs11 is a vault.Vault backed by a PKCS#11 token (an HSM, or SoftHSM2 in tests)
// through github.com/ThalesGroup/crypto11.
//
// Keys are generated inside the token and never leave it: the private half is made with
// CKA_SENSITIVE true and CKA_EXTRACTABLE false, so neither its value nor a wrapped copy can
// be read out. Each vault label is one key pair: the label is the CKA_LABEL of both halves,
// and their CKA_ID is the first IDLen bytes of SHA-256 of the label, so a key can be found
// again from its label alone by any process logged into the token.
//
// CreateKey checks that the label is free and then generates the key under a mutex of this
// process. PKCS#11 has no unique constraint on CKA_LABEL, so two replicas sharing one token
// could still both create a key under one label; a deployment with several replicas needs a
// registry with a unique key (the database) in front of CreateKey. That is not this
// package's job.
package pkcs11
