package keys

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func randomKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, MasterKeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	mk := randomKey(t)
	s, err := NewSealer(mk)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewSealer(randomKey(t))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("pkcs8 bytes would go here")
	sealed, err := s.Seal("kid-1", secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed blob contains the plaintext")
	}
	if again, _ := s.Seal("kid-1", secret); bytes.Equal(again, sealed) {
		t.Fatal("two seals of the same plaintext are equal: nonce reused")
	}
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name    string
		sealer  *Sealer
		kid     string
		blob    []byte
		wantErr error
	}{
		{"round trip", s, "kid-1", sealed, nil},
		{"other kid (AAD)", s, "kid-2", sealed, ErrUnseal},
		{"empty kid", s, "", sealed, ErrUnseal},
		{"wrong master key", other, "kid-1", sealed, ErrUnseal},
		{"tampered nonce", s, "kid-1", flip(1), ErrUnseal},
		{"tampered ciphertext", s, "kid-1", flip(14), ErrUnseal},
		{"tampered tag", s, "kid-1", flip(len(sealed) - 1), ErrUnseal},
		{"unknown version", s, "kid-1", flip(0), ErrSealedFormat},
		{"truncated", s, "kid-1", sealed[:20], ErrSealedFormat},
		{"empty", s, "kid-1", nil, ErrSealedFormat},
		{"appended byte", s, "kid-1", append(bytes.Clone(sealed), 0), ErrUnseal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sealer.Open(tt.kid, tt.blob)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Open error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && !bytes.Equal(got, secret) {
				t.Fatalf("Open = %q, want %q", got, secret)
			}
		})
	}
}

func TestNewSealerLength(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := NewSealer(make([]byte, n)); !errors.Is(err, ErrMasterKeyLength) {
			t.Errorf("NewSealer(%d bytes) error = %v, want ErrMasterKeyLength", n, err)
		}
	}
}

func TestLoadMasterKey(t *testing.T) {
	key := randomKey(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", base64.StdEncoding.EncodeToString(key)+"\n")
	short := write("short", base64.StdEncoding.EncodeToString(key[:16]))
	garbage := write("garbage", "not base64 at all!")
	missing := filepath.Join(dir, "missing")

	tests := []struct {
		name    string
		envVal  string // value of MOTLAN_TEST_MASTER_KEY; empty: unset
		file    string
		want    []byte
		wantErr error
	}{
		{"env std base64", base64.StdEncoding.EncodeToString(key), "", key, nil},
		{"env raw url base64", base64.RawURLEncoding.EncodeToString(key), "", key, nil},
		{"env wins over file", base64.StdEncoding.EncodeToString(key), garbage, key, nil},
		{"env wrong length", base64.StdEncoding.EncodeToString(key[:31]), good, nil, ErrMasterKeyLength},
		{"env not base64", "%%%", "", nil, ErrMasterKeyEncoding},
		{"file", "", good, key, nil},
		{"file wrong length", "", short, nil, ErrMasterKeyLength},
		{"file not base64", "", garbage, nil, ErrMasterKeyEncoding},
		{"file missing", "", missing, nil, ErrMasterKeyUnreadable},
		{"nothing configured", "", "", nil, ErrMasterKeyMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("MOTLAN_TEST_MASTER_KEY", tt.envVal)
			got, err := LoadMasterKey("MOTLAN_TEST_MASTER_KEY", tt.file)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("key mismatch")
			}
			if err != nil && tt.envVal != "" && bytes.Contains([]byte(err.Error()), []byte(tt.envVal)) {
				t.Fatalf("error %q repeats the configured value", err)
			}
		})
	}
}

func TestEnsureMasterKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a", "b", "master.key")

	// Concurrent first callers all get the one key that ends up in the file.
	const n = 8
	got := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = EnsureMasterKeyFile(path) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if len(got[i]) != MasterKeySize || !bytes.Equal(got[i], got[0]) {
			t.Fatalf("caller %d got a different key", i)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, want 0600", fi.Mode().Perm())
	}
	for _, d := range []string{filepath.Join(dir, "a"), filepath.Join(dir, "a", "b")} {
		di, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if di.Mode().Perm() != 0o700 {
			t.Errorf("dir %s mode = %v, want 0700", d, di.Mode().Perm())
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}

	again, err := EnsureMasterKeyFile(path)
	if err != nil || !bytes.Equal(again, got[0]) {
		t.Fatalf("second call: %v, same key %v", err, bytes.Equal(again, got[0]))
	}
	fromLoad, err := LoadMasterKey("", path)
	if err != nil || !bytes.Equal(fromLoad, got[0]) {
		t.Fatalf("LoadMasterKey on the file: %v", err)
	}

	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("c2hvcnQ="), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureMasterKeyFile(bad); !errors.Is(err, ErrMasterKeyLength) {
		t.Fatalf("existing bad file: error = %v, want ErrMasterKeyLength", err)
	}
}
