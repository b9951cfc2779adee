package pades

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"

	"github.com/motlan/motlan/internal/pdf"
)

// An encrypted document's incremental update is encrypted with the document's own key
// (ISO 32000-2 7.6.2): every string and stream of a new or replaced object with that
// object's key, except a signature dictionary's /Contents and the cross-reference
// stream. The writers build objects in clear; the objWriter seals each object's strings
// when it ends (sealStrings) and encrypts stream data as it writes it.

// newObjWriter starts the update of d: objects from d's next free number, laid out
// after its last byte, sealed with its encryption.
func newObjWriter(d *document) *objWriter {
	w := &objWriter{base: d.size, offsets: map[ref]int64{}, next: d.nextID, enc: d.enc}
	if d.needsEOL {
		w.buf.WriteByte('\n')
	}
	return w
}

// sealStrings encrypts the strings written since the current object began. Strings
// change length, so a caller that records offsets inside an object (a signature
// dictionary's placeholders) writes its strings after them.
func (w *objWriter) sealStrings() {
	if w.enc == nil || !w.enc.Strings {
		return
	}
	body := w.buf.Bytes()[w.objStart:]
	out := encryptStrings(body, func(s []byte) []byte {
		iv := make([]byte, 16)
		_, _ = rand.Read(iv)
		return w.enc.Encrypt(w.cur.id, w.cur.gen, s, iv)
	})
	w.buf.Truncate(w.objStart)
	w.buf.Write(out)
}

// sealStream returns the data of stream r as written: encrypted when the document is.
func (w *objWriter) sealStream(r ref, data []byte) []byte {
	if w.enc == nil || !w.enc.Streams {
		return data
	}
	iv := make([]byte, 16)
	_, _ = rand.Read(iv)
	return w.enc.Encrypt(r.id, r.gen, data, iv)
}

// encryptStrings rewrites every literal and hex string of body (one object as this
// package writes it: no comments, no stream data) as the hex string of seal(bytes). The
// hex string after /Contents is left alone when the object holds a /ByteRange: it is a
// signature's, never encrypted.
func encryptStrings(body []byte, seal func([]byte) []byte) []byte {
	sig := bytes.Contains(body, []byte("/ByteRange"))
	var out bytes.Buffer
	out.Grow(len(body) + 64)
	lastName := ""
	for i := 0; i < len(body); {
		c := body[i]
		switch {
		case c == '/':
			j := i + 1
			for j < len(body) && isRegularByte(body[j]) {
				j++
			}
			lastName = string(body[i+1 : j])
			out.Write(body[i:j])
			i = j
			continue
		case c == '<' && i+1 < len(body) && body[i+1] == '<', c == '>' && i+1 < len(body) && body[i+1] == '>':
			out.Write(body[i : i+2])
			i += 2
		case c == '<' || c == '(':
			s, n, ok := pdf.ParseString(body[i:])
			switch {
			case !ok: // not a string after all: this package writes none such
				out.WriteByte(c)
				n = 1
			case c == '<' && sig && lastName == "Contents":
				out.Write(body[i : i+n])
			default:
				out.WriteString("<" + hex.EncodeToString(seal(s)) + ">")
			}
			i += n
		default:
			out.WriteByte(c)
			i++
		}
		if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
			lastName = ""
		}
	}
	return out.Bytes()
}

func isRegularByte(c byte) bool {
	return c > ' ' && bytes.IndexByte([]byte("()<>[]{}/%"), c) < 0
}
