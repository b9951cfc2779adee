// Package testrssp is a remote signing service (RSSP) for tests, written from the CSC API
// v2.0 text with raw JSON and nothing of Motlan's CSC code, so a field name Motlan's client
// and server both got wrong cannot pass. It holds one key and certificate per credential,
// speaks OAuth 2.0 client_credentials, and can be told to fail in each way a client must
// survive. Only tests import it.
package testrssp
