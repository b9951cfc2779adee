package cms

import (
	"crypto/rand"
	"math/big"
)

// RandomSerial returns a positive random 128-bit serial number, for certificates and
// time-stamp tokens: unique across replicas without coordination.
func RandomSerial() (*big.Int, error) {
	b := make([]byte, 16)
	for {
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		if n := new(big.Int).SetBytes(b); n.Sign() > 0 {
			return n, nil
		}
	}
}
