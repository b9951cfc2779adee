// Copyright 2014 The Go Authors.  All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package pdf

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/rc4"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"io"
)

// The standard security handler (ISO 32000-2 7.6.4). Only the empty user password is
// tried: Motlan signs files a citizen can open without one.

var passwordPad = []byte{
	0x28, 0xBF, 0x4E, 0x5E, 0x4E, 0x75, 0x8A, 0x41, 0x64, 0x00, 0x4E, 0x56, 0xFF, 0xFA, 0x01, 0x08,
	0x2E, 0x2E, 0x00, 0xB6, 0xD0, 0x68, 0x3E, 0x80, 0x2F, 0x0C, 0xA9, 0xFE, 0x64, 0x53, 0x69, 0x7A,
}

var (
	// ErrInvalidPassword is kept for the original API: the password given is wrong.
	ErrInvalidPassword = errors.New("encrypted PDF: invalid password")
	// ErrPasswordRequired reports a file that opens only with a user password.
	ErrPasswordRequired = fmt.Errorf("%w: the file needs a password to open", ErrInvalidPassword)
)

// Encryption is what a writer needs to add objects to an encrypted file: the file key
// and how objects are encrypted with it.
type Encryption struct {
	Key []byte
	// V is the /V of the encryption dictionary: 1 or 2 (RC4), 4 (RC4 or AES-128 by crypt
	// filter), 5 (AES-256).
	V int
	// AES: strings and streams use AES-CBC (AESV2 or AESV3), else RC4.
	AES bool
	// Strings, Streams: whether strings and streams are encrypted (a crypt filter may
	// be /Identity).
	Strings, Streams bool
	// Ref is the encryption dictionary's object (its strings are never encrypted).
	Ref objptr
}

// Encryption returns the file's encryption, or nil when it is not encrypted.
func (r *Reader) Encryption() *Encryption { return r.enc }

func (r *Reader) initEncrypt(password string) error {
	ref, _ := r.trailer["Encrypt"].(objptr)
	encrypt, _ := r.resolve(objptr{}, r.trailer["Encrypt"]).data.(dict)
	if encrypt["Filter"] != name("Standard") {
		return fmt.Errorf("unsupported PDF: encryption filter %v", objfmt(encrypt["Filter"]))
	}
	V, _ := encrypt["V"].(int64)
	R, _ := encrypt["R"].(int64)
	e := &Encryption{V: int(V), Strings: true, Streams: true, Ref: ref}
	switch {
	case V == 1 || V == 2:
	case V == 4 || V == 5:
		var err error
		if e.Strings, e.Streams, e.AES, err = cryptFilters(encrypt, V); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unsupported PDF: encryption version V=%d", V)
	}
	var key []byte
	var err error
	switch {
	case R >= 2 && R <= 4 && V <= 4:
		key, err = r.keyRC4Era(encrypt, R, password)
	case (R == 5 || R == 6) && V == 5:
		key, err = keyAES256(encrypt, R, password)
	default:
		return fmt.Errorf("unsupported PDF: encryption revision R=%d with V=%d", R, V)
	}
	if err != nil {
		return err
	}
	e.Key = key
	if k := len(e.ObjectKey(0, 0)); e.AES && k != 16 && k != 32 {
		return fmt.Errorf("malformed PDF: a %d-byte key for AES", k)
	}
	r.enc = e
	return nil
}

// cryptFilters reads /StmF and /StrF of a V4 or V5 dictionary: whether each is
// encrypted and whether with AES.
func cryptFilters(encrypt dict, V int64) (strs, stms, useAES bool, err error) {
	cf, _ := encrypt["CF"].(dict)
	method := func(key string) (bool, bool, error) {
		f, _ := encrypt[name(key)].(name)
		if f == "" || f == "Identity" {
			return false, false, nil
		}
		p, _ := cf[f].(dict)
		switch p["CFM"] {
		case name("AESV2"):
			return true, V == 4, nil
		case name("AESV3"):
			return true, V == 5, nil
		case name("V2"):
			return true, V == 4, nil
		}
		return false, false, fmt.Errorf("unsupported PDF: crypt filter %v", objfmt(p["CFM"]))
	}
	strs, okS, err := method("StrF")
	if err != nil {
		return false, false, false, err
	}
	stms, okT, err := method("StmF")
	if err != nil {
		return false, false, false, err
	}
	if strs && !okS || stms && !okT {
		return false, false, false, fmt.Errorf("unsupported PDF: crypt filter does not match V=%d", V)
	}
	sf, _ := encrypt["StrF"].(name)
	tf, _ := encrypt["StmF"].(name)
	if strs && stms && sf != tf {
		return false, false, false, errors.New("unsupported PDF: different crypt filters for strings and streams")
	}
	aesOf := func(f name) bool {
		p, _ := cf[f].(dict)
		return p["CFM"] == name("AESV2") || p["CFM"] == name("AESV3")
	}
	return strs, stms, (strs && aesOf(sf)) || (stms && aesOf(tf)), nil
}

// keyRC4Era computes the file key of revisions 2 to 4 (Algorithm 2) and checks the
// password against /U (Algorithms 4 and 5).
func (r *Reader) keyRC4Era(encrypt dict, R int64, password string) ([]byte, error) {
	n, _ := encrypt["Length"].(int64)
	if n == 0 {
		n = 40
	}
	if n%8 != 0 || n > 128 || n < 40 {
		return nil, fmt.Errorf("malformed PDF: %d-bit encryption key", n)
	}
	ids, _ := r.trailer["ID"].(array)
	var id []byte
	if len(ids) > 0 {
		s, _ := ids[0].(string)
		id = []byte(s)
	}
	O, _ := encrypt["O"].(string)
	U, _ := encrypt["U"].(string)
	if len(O) < 32 || len(U) < 32 {
		return nil, errors.New("malformed PDF: missing O= or U= encryption parameters")
	}
	p, _ := encrypt["P"].(int64)
	P := uint32(p)
	pw := []byte(password)
	h := md5.New()
	if len(pw) >= 32 {
		h.Write(pw[:32])
	} else {
		h.Write(pw)
		h.Write(passwordPad[:32-len(pw)])
	}
	h.Write([]byte(O[:32]))
	h.Write([]byte{byte(P), byte(P >> 8), byte(P >> 16), byte(P >> 24)})
	h.Write(id)
	if em, ok := encrypt["EncryptMetadata"].(bool); ok && !em && R >= 4 {
		h.Write([]byte{0xff, 0xff, 0xff, 0xff})
	}
	key := h.Sum(nil)
	if R >= 3 {
		for range 50 {
			h.Reset()
			h.Write(key[:n/8])
			key = h.Sum(key[:0])
		}
		key = key[:n/8]
	} else {
		key = key[:5]
	}
	c, err := rc4.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("malformed PDF: invalid RC4 key: %v", err)
	}
	var u []byte
	if R == 2 {
		u = make([]byte, 32)
		copy(u, passwordPad)
		c.XORKeyStream(u, u)
	} else {
		h.Reset()
		h.Write(passwordPad)
		h.Write(id)
		u = h.Sum(nil)
		c.XORKeyStream(u, u)
		for i := 1; i <= 19; i++ {
			k := bytes.Clone(key)
			for j := range k {
				k[j] ^= byte(i)
			}
			c, _ = rc4.NewCipher(k)
			c.XORKeyStream(u, u)
		}
		u = u[:16] // revisions 3 and 4 compare the first 16 bytes
	}
	if !bytes.HasPrefix([]byte(U), u) {
		return nil, ErrPasswordRequired
	}
	return key, nil
}

// keyAES256 checks the user password against /U and unwraps the file key from /UE
// (revisions 5 and 6, ISO 32000-2 Algorithms 2.A, 2.B, 11).
func keyAES256(encrypt dict, R int64, password string) ([]byte, error) {
	U, _ := encrypt["U"].(string)
	UE, _ := encrypt["UE"].(string)
	if len(U) < 48 || len(UE) != 32 {
		return nil, errors.New("malformed PDF: missing U= or UE= encryption parameters")
	}
	pw := []byte(password)
	if len(pw) > 127 {
		pw = pw[:127]
	}
	u := []byte(U)
	if !bytes.Equal(hash2B(R, pw, u[32:40], nil), u[:32]) {
		return nil, ErrPasswordRequired
	}
	kek := hash2B(R, pw, u[40:48], nil)
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	key := []byte(UE)
	cipher.NewCBCDecrypter(block, make([]byte, 16)).CryptBlocks(key, key)
	return key, nil
}

// hash2B is the password hash of revision 6 (Algorithm 2.B); revision 5 uses one
// SHA-256.
func hash2B(R int64, pw, salt, udata []byte) []byte {
	k := sha256.Sum256(bytes.Join([][]byte{pw, salt, udata}, nil))
	if R == 5 {
		return k[:]
	}
	K := k[:]
	var e []byte
	for i := 0; i < 64 || int(e[len(e)-1]) > i-32; i++ {
		one := bytes.Join([][]byte{pw, K, udata}, nil)
		k1 := bytes.Repeat(one, 64)
		block, _ := aes.NewCipher(K[:16])
		e = make([]byte, len(k1))
		cipher.NewCBCEncrypter(block, K[16:32]).CryptBlocks(e, k1)
		sum := 0
		for _, b := range e[:16] {
			sum += int(b)
		}
		var h hash.Hash
		switch sum % 3 {
		case 0:
			h = sha256.New()
		case 1:
			h = sha512.New384()
		default:
			h = sha512.New()
		}
		h.Write(e)
		K = h.Sum(nil)
	}
	return K[:32]
}

// ObjectKey is the key of object ptr's strings and streams (Algorithm 1; V5 uses the
// file key itself).
func (e *Encryption) ObjectKey(id uint32, gen uint16) []byte {
	if e.V == 5 {
		return e.Key
	}
	h := md5.New()
	h.Write(e.Key)
	h.Write([]byte{byte(id), byte(id >> 8), byte(id >> 16), byte(gen), byte(gen >> 8)})
	if e.AES {
		h.Write([]byte("sAlT"))
	}
	k := h.Sum(nil)
	return k[:min(len(e.Key)+5, 16)]
}

// decrypt decrypts data of object (id, gen); AES data that is not whole blocks after
// its IV, or whose padding is wrong, is returned as is (the caller sees garbage, as a
// viewer would).
func (e *Encryption) decrypt(id uint32, gen uint16, data []byte) []byte {
	key := e.ObjectKey(id, gen)
	if !e.AES {
		return rc4XOR(key, data)
	}
	if len(data) < 32 || len(data)%16 != 0 {
		return data
	}
	block, _ := aes.NewCipher(key)
	out := make([]byte, len(data)-16)
	cipher.NewCBCDecrypter(block, data[:16]).CryptBlocks(out, data[16:])
	pad := int(out[len(out)-1])
	if pad < 1 || pad > 16 {
		return out
	}
	return out[:len(out)-pad]
}

// Encrypt encrypts data of object (id, gen) as a writer must: RC4, or AES-CBC with iv
// (16 random bytes) and PKCS #7 padding.
func (e *Encryption) Encrypt(id uint32, gen uint16, data, iv []byte) []byte {
	key := e.ObjectKey(id, gen)
	if !e.AES {
		return rc4XOR(key, data)
	}
	pad := 16 - len(data)%16
	plain := append(bytes.Clone(data), bytes.Repeat([]byte{byte(pad)}, pad)...)
	block, _ := aes.NewCipher(key)
	out := make([]byte, 16+len(plain))
	copy(out, iv[:16])
	cipher.NewCBCEncrypter(block, iv[:16]).CryptBlocks(out[16:], plain)
	return out
}

// decryptObject decrypts the strings of object ptr in place of x, except a signature
// dictionary's /Contents (never encrypted, 7.6.2) and the encryption dictionary.
func (r *Reader) decryptObject(ptr objptr, x object) object {
	if r.enc == nil || !r.enc.Strings || ptr == r.enc.Ref {
		return x
	}
	return r.decryptValue(ptr, x, 0)
}

func (r *Reader) decryptValue(ptr objptr, x object, depth int) object {
	if depth > 64 {
		return x
	}
	switch v := x.(type) {
	case string:
		return string(r.enc.decrypt(ptr.id, ptr.gen, []byte(v)))
	case array:
		out := make(array, len(v))
		for i, y := range v {
			out[i] = r.decryptValue(ptr, y, depth+1)
		}
		return out
	case dict:
		_, sig := v["ByteRange"]
		out := make(dict, len(v))
		for k, y := range v {
			if sig && k == "Contents" {
				out[k] = y
				continue
			}
			out[k] = r.decryptValue(ptr, y, depth+1)
		}
		return out
	case stream:
		v.hdr = r.decryptValue(ptr, v.hdr, depth+1).(dict)
		return v
	}
	return x
}

// decryptStream returns the decrypted data of stream x (raw: its encoded bytes).
func (r *Reader) decryptStream(x stream, rd io.Reader) io.Reader {
	if r.enc == nil || !r.enc.Streams || x.hdr["Type"] == name("XRef") {
		return rd
	}
	data, err := io.ReadAll(rd)
	if err != nil {
		return &errorReadCloser{err}
	}
	return bytes.NewReader(r.enc.decrypt(x.ptr.id, x.ptr.gen, data))
}

func rc4XOR(key, data []byte) []byte {
	c, _ := rc4.NewCipher(key)
	out := make([]byte, len(data))
	c.XORKeyStream(out, data)
	return out
}
