package seal

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestSealUntil checks a sealed cookie value: it opens for its own name until it expires,
// and a value for another name, another expiry, another key, or altered anywhere does not.
func TestSealUntil(t *testing.T) {
	now := time.Date(2026, 12, 7, 21, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	key := bytes.Repeat([]byte{7}, 32)
	box, err := New(key, clock)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := New(bytes.Repeat([]byte{8}, 32), clock)
	pt := []byte("Lê Công Hảo\x00\xff")
	exp := now.Add(10 * time.Minute)
	v := box.SealUntil(pt, "motlan_tx_a", exp)
	if box.SealUntil(pt, "motlan_tx_a", exp) == v {
		t.Fatal("two seals of the same bytes are equal: the nonce is not random")
	}
	if got, err := box.Open(v, "motlan_tx_a"); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("open: %q, %v", got, err)
	}

	expS, body, _ := strings.Cut(v, ".")
	flipped := []byte(body)
	flipped[len(flipped)/2] ^= 1
	for _, tt := range []struct {
		name, value, cookie string
		box                 *Box
		at                  time.Time
	}{
		{"another cookie's name", v, "motlan_tx_b", box, now},
		{"another key", v, "motlan_tx_a", other, now},
		{"expired", v, "motlan_tx_a", box, exp},
		{"expiry changed", "9999999999." + body, "motlan_tx_a", box, now},
		{"body altered", expS + "." + string(flipped), "motlan_tx_a", box, now},
		{"no expiry", body, "motlan_tx_a", box, now},
		{"short", expS + ".AAAA", "motlan_tx_a", box, now},
		{"not base64", expS + ".!!", "motlan_tx_a", box, now},
	} {
		t.Run(tt.name, func(t *testing.T) {
			now = tt.at
			defer func() { now = time.Date(2026, 12, 7, 21, 0, 0, 0, time.UTC) }()
			if got, err := tt.box.Open(tt.value, tt.cookie); err == nil {
				t.Fatalf("opened: %q", got)
			}
		})
	}

	// The JSON form is the same seal.
	s, err := box.SealJSONUntil(map[string]string{"name": "Lê Công Hảo"}, "c", exp)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := box.OpenJSON(s, "c", &m); err != nil || m["name"] != "Lê Công Hảo" {
		t.Fatalf("OpenJSON: %v, %v", m, err)
	}
}
