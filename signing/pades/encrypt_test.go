package pades

import "testing"

// TestEncryptStrings: every literal and hex string of an object is sealed, a
// signature's /Contents is not, and the rest of the object is kept byte for byte.
func TestEncryptStrings(t *testing.T) {
	seal := func(s []byte) []byte { return append([]byte("S:"), s...) } // "S:" + plain, hex-encoded
	for _, tc := range []struct{ name, in, want string }{
		{"signature dictionary",
			"<< /Type /Sig /ByteRange [0 1 2 3] /Contents <00ff00> /M (D:2026\\051) /Name <FEFF0041> >>",
			"<< /Type /Sig /ByteRange [0 1 2 3] /Contents <00ff00> /M <533a443a3230323629> /Name <533afeff0041> >>"},
		{"a /Contents string outside a signature is sealed",
			"<< /Contents <41> /T (a(b)c) >>",
			"<< /Contents <533a41> /T <533a6128622963> >>"},
		{"dictionaries, arrays and names untouched",
			"<< /A [1 2 <<  /B /C#20D >>] /E 5 0 R >>",
			"<< /A [1 2 <<  /B /C#20D >>] /E 5 0 R >>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(encryptStrings([]byte(tc.in), seal))
			if got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
