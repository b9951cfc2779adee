package csc

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/testpki"
	wire "github.com/motlan/motlan/signing/csc"
)

// FuzzCredentialList feeds arbitrary credentials/list answers to the credential choice: it
// never panics, and a credential it accepts always has a certificate for the citizen's CCCD.
func FuzzCredentialList(f *testing.F) {
	ca := testpki.NewCA(f)
	cert, _ := ca.Citizen(f, "ecdsa")
	other, _ := ca.CitizenNamed(f, "rsa", "Nguyễn Văn An", "CCCD:001203000111")
	for _, c := range [][]string{{b64(cert.Raw), b64(ca.Root.Raw)}, {b64(other.Raw)}, {"!!"}} {
		seed, _ := json.Marshal(wire.ListResponse{CredentialIDs: []string{"c1"}, CredentialInfos: []wire.CredentialInfo{{
			CredentialID: "c1", Key: wire.KeyInfo{Status: "enabled", Algo: []string{wire.OIDECDSAWithSHA256}},
			Cert: wire.CertInfo{Status: "valid", Certificates: c},
			Auth: wire.AuthInfo{Mode: "explicit", Objects: []wire.AuthObject{{Type: "Password", ID: "PIN"}}},
		}}})
		f.Add(seed)
	}
	client := &Client{now: time.Now}
	f.Fuzz(func(t *testing.T, data []byte) {
		var list wire.ListResponse
		if json.Unmarshal(data, &list) != nil {
			return
		}
		for _, ci := range list.CredentialInfos {
			cred, err := client.credential(ci, "038092004567")
			if err == nil && (!subjectHasCCCD(cred.cert, "038092004567") || cred.algo == "") {
				t.Fatalf("accepted a credential without the citizen's certificate: %+v", ci)
			}
		}
	})
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
