package pkcs11

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	_ "crypto/sha512"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/ThalesGroup/crypto11"
	p11 "github.com/miekg/pkcs11"

	"github.com/motlan/motlan/internal/testhsm"
	"github.com/motlan/motlan/keys/vault"
	"github.com/motlan/motlan/keys/vault/vaulttest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testhsm.Cleanup()
	os.Exit(code)
}

func testConfig(t *testing.T) Config {
	return Config{ModulePath: testhsm.Module(t), TokenLabel: testhsm.TokenLabel, PIN: testhsm.PIN}
}

// openVault opens a vault on the test token and closes it when t ends.
func openVault(t *testing.T) *Vault {
	t.Helper()
	v, err := New(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := v.Close(); err != nil {
			t.Error(err)
		}
	})
	return v
}

// emptyVault opens a vault on the test token after deleting every key pair in it, so each
// conformance subtest starts from an empty vault.
func emptyVault(t *testing.T) vault.Vault {
	t.Helper()
	v := openVault(t)
	pairs, err := v.p11.FindAllKeyPairs()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range pairs {
		if err := k.Delete(); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

func TestConformance(t *testing.T) {
	vaulttest.RunConformance(t, emptyVault)
}

// TestFoundByAnotherVault checks a key is found in the token by its label, not only in
// the memory of the vault that made it.
func TestFoundByAnotherVault(t *testing.T) {
	a := emptyVault(t)
	ctx := t.Context()
	for _, alg := range []vault.Alg{vault.ECDSAP256, vault.RSA2048} {
		label := "citizen/persist-" + strings.ToLower(string(alg))
		ref, err := a.CreateKey(ctx, label, vault.KeySpec{Alg: alg})
		if err != nil {
			t.Fatal(err)
		}
		b := openVault(t)
		got, err := b.Key(ctx, label)
		if err != nil {
			t.Fatal(err)
		}
		if got.Alg != alg || !got.Public.(interface{ Equal(crypto.PublicKey) bool }).Equal(ref.Public) {
			t.Errorf("%s: another vault finds %s, another key", alg, got.Alg)
		}
		if _, err := b.CreateKey(ctx, label, vault.KeySpec{Alg: alg}); !errors.Is(err, vault.ErrExists) {
			t.Errorf("%s: CreateKey in another vault: %v, want ErrExists", alg, err)
		}
		sig, err := b.Sign(ctx, label, vaulttest.Digest(1), crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if err := vaulttest.Verify(ref.Public, vaulttest.Digest(1), sig, crypto.SHA256); err != nil {
			t.Error(err)
		}
	}
}

// TestNotExtractable checks the token refuses to give out a private key: its secret
// attributes cannot be read, it cannot be wrapped out, and its flags cannot be relaxed.
func TestNotExtractable(t *testing.T) {
	v := emptyVault(t).(*Vault)
	ctx := t.Context()
	tests := []struct {
		name    string
		alg     vault.Alg
		secrets []crypto11.AttributeType
	}{
		{"ECDSAP256", vault.ECDSAP256, []crypto11.AttributeType{crypto11.CkaValue}},
		{"RSA2048", vault.RSA2048, []crypto11.AttributeType{
			crypto11.CkaPrivateExponent, crypto11.CkaPrime1, crypto11.CkaPrime2,
			crypto11.CkaExponent1, crypto11.CkaExponent2, crypto11.CkaCoefficient,
		}},
	}
	raw := rawSession(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			label := "citizen/sealed-" + strings.ToLower(tc.name)
			if _, err := v.CreateKey(ctx, label, vault.KeySpec{Alg: tc.alg}); err != nil {
				t.Fatal(err)
			}
			k, err := v.key(ctx, label)
			if err != nil {
				t.Fatal(err)
			}

			flags, err := v.p11.GetAttributes(k.signer, []crypto11.AttributeType{
				crypto11.CkaSensitive, crypto11.CkaExtractable,
				crypto11.CkaAlwaysSensitive, crypto11.CkaNeverExtractable,
				crypto11.CkaToken, crypto11.CkaPrivate,
			})
			if err != nil {
				t.Fatal(err)
			}
			for typ, want := range map[crypto11.AttributeType]bool{
				crypto11.CkaSensitive: true, crypto11.CkaExtractable: false,
				crypto11.CkaAlwaysSensitive: true, crypto11.CkaNeverExtractable: true,
				crypto11.CkaToken: true, crypto11.CkaPrivate: true,
			} {
				a := flags[typ]
				if a == nil || len(a.Value) != 1 || (a.Value[0] != 0) != want {
					t.Errorf("attribute %#x is %v, want %v", typ, a, want)
				}
			}

			for _, typ := range tc.secrets {
				a, err := v.p11.GetAttribute(k.signer, typ)
				if !errors.Is(err, p11.Error(p11.CKR_ATTRIBUTE_SENSITIVE)) {
					t.Errorf("reading attribute %#x: value %v, error %v; want CKR_ATTRIBUTE_SENSITIVE", typ, a, err)
				}
			}

			priv := raw.find(t, label)
			if _, err := raw.ctx.WrapKey(raw.session,
				[]*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_KEY_WRAP_PAD, nil)}, raw.wrapKey, priv); !errors.Is(err, p11.Error(p11.CKR_KEY_UNEXTRACTABLE)) {
				t.Errorf("C_WrapKey: %v, want CKR_KEY_UNEXTRACTABLE", err)
			}
			for _, a := range []*p11.Attribute{
				p11.NewAttribute(p11.CKA_EXTRACTABLE, true),
				p11.NewAttribute(p11.CKA_SENSITIVE, false),
			} {
				if err := raw.ctx.SetAttributeValue(raw.session, priv, []*p11.Attribute{a}); err == nil {
					t.Errorf("C_SetAttributeValue %#x relaxed the key", a.Type)
				}
			}
			// And the key still signs.
			sig, err := v.Sign(ctx, label, vaulttest.Digest(2), crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if err := vaulttest.Verify(k.ref.Public, vaulttest.Digest(2), sig, crypto.SHA256); err != nil {
				t.Error(err)
			}
		})
	}
}

// raw is a session straight on the PKCS#11 API, below crypto11, with an AES key able to
// wrap other keys.
type raw struct {
	ctx     *p11.Ctx
	session p11.SessionHandle
	wrapKey p11.ObjectHandle
}

// rawSession opens one, sharing the module crypto11 has initialized (and its login).
func rawSession(t *testing.T) *raw {
	t.Helper()
	path := testhsm.Module(t)
	ctx := p11.New(path)
	if ctx == nil {
		t.Fatalf("load %s", path)
	}
	if err := ctx.Initialize(); err != nil && !errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		t.Fatal(err)
	}
	// No C_Finalize: the module is shared with the vaults of this process.
	t.Cleanup(ctx.Destroy)
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	slot, found := uint(0), false
	for _, s := range slots {
		info, err := ctx.GetTokenInfo(s)
		if err == nil && strings.TrimRight(info.Label, " ") == testhsm.TokenLabel {
			slot, found = s, true
		}
	}
	if !found {
		t.Fatalf("no token %q", testhsm.TokenLabel)
	}
	session, err := ctx.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctx.CloseSession(session) })
	if err := ctx.Login(session, p11.CKU_USER, testhsm.PIN); err != nil && !errors.Is(err, p11.Error(p11.CKR_USER_ALREADY_LOGGED_IN)) {
		t.Fatal(err)
	}
	wrapKey, err := ctx.GenerateKey(session, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_KEY_GEN, nil)},
		[]*p11.Attribute{
			p11.NewAttribute(p11.CKA_TOKEN, false),
			p11.NewAttribute(p11.CKA_VALUE_LEN, 32),
			p11.NewAttribute(p11.CKA_WRAP, true),
			p11.NewAttribute(p11.CKA_UNWRAP, true),
		})
	if err != nil {
		t.Fatal(err)
	}
	return &raw{ctx: ctx, session: session, wrapKey: wrapKey}
}

// find returns the handle of the private key under label, checking its CKA_ID.
func (r *raw) find(t *testing.T, label string) p11.ObjectHandle {
	t.Helper()
	tmpl := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
		p11.NewAttribute(p11.CKA_LABEL, label),
	}
	if err := r.ctx.FindObjectsInit(r.session, tmpl); err != nil {
		t.Fatal(err)
	}
	handles, _, err := r.ctx.FindObjects(r.session, 2)
	if ferr := r.ctx.FindObjectsFinal(r.session); err == nil {
		err = ferr
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(handles) != 1 {
		t.Fatalf("%d private keys labelled %q, want 1", len(handles), label)
	}
	attrs, err := r.ctx.GetAttributeValue(r.session, handles[0], []*p11.Attribute{p11.NewAttribute(p11.CKA_ID, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(attrs[0].Value, ID(label)) {
		t.Errorf("CKA_ID %x, want %x", attrs[0].Value, ID(label))
	}
	return handles[0]
}

func TestConfigValidate(t *testing.T) {
	slot := 0
	neg := -1
	ok := Config{ModulePath: "/usr/lib/softhsm/libsofthsm2.so", TokenLabel: "t", PIN: "1"}
	tests := []struct {
		name   string
		change func(*Config)
		ok     bool
	}{
		{"token label", func(*Config) {}, true},
		{"slot", func(c *Config) { c.TokenLabel, c.SlotNumber = "", &slot }, true},
		{"max sessions", func(c *Config) { c.MaxSessions = 2 }, true},
		{"no module", func(c *Config) { c.ModulePath = "" }, false},
		{"relative module", func(c *Config) { c.ModulePath = "libsofthsm2.so" }, false},
		{"no token", func(c *Config) { c.TokenLabel = "" }, false},
		{"label and slot", func(c *Config) { c.SlotNumber = &slot }, false},
		{"negative slot", func(c *Config) { c.TokenLabel, c.SlotNumber = "", &neg }, false},
		{"no PIN", func(c *Config) { c.PIN = "" }, false},
		{"one session", func(c *Config) { c.MaxSessions = 1 }, false},
		{"negative sessions", func(c *Config) { c.MaxSessions = -1 }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.change(&c)
			if err := c.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestNewWrongPIN(t *testing.T) {
	cfg := testConfig(t)
	cfg.PIN = "0000"
	v, err := New(cfg)
	if err == nil {
		v.Close()
		t.Fatal("New with a wrong PIN succeeded")
	}
	if strings.Contains(err.Error(), "0000") {
		t.Errorf("error shows the PIN: %v", err)
	}
}

// TestPSSSaltLengthAuto checks the salt length crypto11 refuses is signed as crypto/rsa
// signs it: the longest salt.
func TestPSSSaltLengthAuto(t *testing.T) {
	v := emptyVault(t)
	ref, err := v.CreateKey(t.Context(), "citizen/pss-auto", vault.KeySpec{Alg: vault.RSA2048})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA512} {
		digest := h.New().Sum(nil)
		opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: h}
		sig, err := v.Sign(t.Context(), "citizen/pss-auto", digest, opts)
		if err != nil {
			t.Fatalf("%v: %v", h, err)
		}
		longest := &rsa.PSSOptions{SaltLength: 256 - 2 - h.Size(), Hash: h}
		if err := rsa.VerifyPSS(ref.Public.(*rsa.PublicKey), h, digest, sig, longest); err != nil {
			t.Errorf("%v: %v", h, err)
		}
	}
}
