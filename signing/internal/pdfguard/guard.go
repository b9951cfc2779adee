// Package pdfguard opens untrusted PDFs with internal/pdf (Motlan's fork of
// github.com/digitorus/pdf) safely.
//
// The reader panics on malformed input (an /Extends cycle included), allocates by
// declared sizes before checking them, loops forever on an array that meets "endobj"
// before "]", spins on an unterminated string or array at the end of an object stream,
// and recurses without end on an object stream that lives in an object stream. Check rejects, with terminating scanners and a work
// budget, every file that could lead the reader there; OpenRevision opens a checked file
// under recover and checks the object streams its cross-reference table uses. Open does
// both.
//
// Every error of this package is an *Error, which matches ErrInvalid or ErrEncrypted
// with errors.Is; Translate turns it into a caller's own sentinel errors.
package pdfguard

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/motlan/motlan/internal/pdf"
)

var (
	// ErrInvalid matches every error for input that is not a PDF the reader can be
	// trusted with.
	ErrInvalid = errors.New("pdfguard: invalid PDF")
	// ErrEncrypted matches the error for an encrypted PDF that cannot be opened.
	ErrEncrypted = errors.New("pdfguard: encrypted PDF")
	// ErrPasswordRequired matches (besides ErrEncrypted) the error for a PDF that opens
	// only with a user password.
	ErrPasswordRequired = errors.New("pdfguard: the PDF needs a password to open")
)

// Error is the error type of this package.
type Error struct {
	Encrypted bool // the PDF is encrypted and cannot be opened; else it is invalid
	// PasswordRequired: encrypted with a user password (else an unsupported handler).
	PasswordRequired bool
	Reason           string // what is wrong, for an invalid PDF
}

func (e *Error) Error() string {
	if e.Encrypted {
		return ErrEncrypted.Error()
	}
	return ErrInvalid.Error() + ": " + e.Reason
}

// Is matches ErrInvalid or ErrEncrypted (and ErrPasswordRequired).
func (e *Error) Is(target error) bool {
	if e.Encrypted {
		return target == ErrEncrypted || e.PasswordRequired && target == ErrPasswordRequired
	}
	return target == ErrInvalid
}

func invalidf(format string, args ...any) error {
	return &Error{Reason: fmt.Sprintf(format, args...)}
}

var errEncrypted = &Error{Encrypted: true}

// Translate maps an error of this package to the caller's sentinels: encrypted for an
// encrypted PDF (returned as is), else "invalid: reason" wrapping invalid. Other errors
// (nil included) are returned unchanged.
func Translate(err, invalid, encrypted error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	if e.Encrypted {
		return encrypted
	}
	return fmt.Errorf("%w: %s", invalid, e.Reason)
}

// Defaults of Limits.
const (
	DefaultMaxSize          = 256 << 20
	DefaultMaxObjStmDecoded = 64 << 20
	DefaultEOFWindow        = 2048 // as far as internal/pdf looks for %%EOF
)

// Limits bound the work on one file. Zero fields take the defaults.
type Limits struct {
	// MaxSize bounds the input Open reads into memory (DefaultMaxSize).
	MaxSize int64
	// MaxObjStmDecoded bounds the decoded size of one object stream
	// (DefaultMaxObjStmDecoded); a larger one is rejected.
	MaxObjStmDecoded int64
	// EOFWindow is how close to the end %%EOF must be (DefaultEOFWindow), the tail
	// internal/pdf reads once.
	EOFWindow int
}

func (l Limits) withDefaults() Limits {
	if l.MaxSize <= 0 {
		l.MaxSize = DefaultMaxSize
	}
	if l.MaxObjStmDecoded <= 0 {
		l.MaxObjStmDecoded = DefaultMaxObjStmDecoded
	}
	if l.EOFWindow <= 0 {
		l.EOFWindow = DefaultEOFWindow
	}
	return l
}

// MaxObjects bounds the object numbers a document of size bytes may declare, so that a
// hostile /Size, /N or xref subsection cannot make the reader allocate gigabytes.
func MaxObjects(size int64) int64 {
	n := size / 2
	if n < 1<<16 {
		n = 1 << 16
	}
	if n > 4<<20 {
		n = 4 << 20
	}
	return n
}

// Open reads the PDF in r (size bytes) into memory, checks it and opens its last
// revision. The reader returned reads from memory, not from r.
func Open(r io.ReaderAt, size int64, lim Limits) (*pdf.Reader, error) {
	lim = lim.withDefaults()
	if size < 0 {
		return nil, invalidf("negative size")
	}
	if size > lim.MaxSize {
		return nil, invalidf("%d bytes, limit %d", size, lim.MaxSize)
	}
	data := make([]byte, size)
	if n, err := r.ReadAt(data, 0); int64(n) != size {
		return nil, invalidf("reading: %v", err)
	}
	if err := Check(data); err != nil {
		return nil, err
	}
	return OpenRevision(data, len(data), lim)
}

// Check runs the checks that do not depend on the revision: header, hostile numbers,
// arrays that meet endobj. (Escaped spellings of the keys, /Extends and huge counts the
// reader now bounds itself: internal/pdf.) data is the whole file; a revision of it (a
// prefix) is covered too.
func Check(data []byte) error {
	if len(data) < 16 || !bytes.HasPrefix(data, []byte("%PDF-")) {
		return invalidf("no %%PDF- header")
	}
	if err := guardPlainObjects(data); err != nil {
		return err
	}
	limit := MaxObjects(int64(len(data)))
	if err := checkXrefTables(data, limit); err != nil {
		return err
	}
	// One pass over the names: a pass per key cost as much as the rest of signing.
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], '/')
		if j < 0 {
			return nil
		}
		at := i + j + 1
		i = at
		for _, key := range guardedKeys {
			if !bytes.HasPrefix(data[at:], []byte(key)) {
				continue
			}
			end := at + len(key)
			if key != "Index" && end < len(data) && isRegular(data[end]) {
				continue // /Name, /Width, ...: another key
			}
			if err := checkNumbers(data, key, end, limit); err != nil {
				return err
			}
		}
	}
}

// guardedKeys are the keys whose numbers Check bounds.
var guardedKeys = []string{"Size", "Index", "N", "First", "W", "Columns"}

// checkNumbers bounds the integers after key (at data[end:]).
func checkNumbers(data []byte, key string, end int, limit int64) error {
	max := 1
	l := limit
	switch key {
	case "Index":
		max = 64
	case "First":
		l = int64(len(data)) // an offset into a decoded object stream
	case "W":
		max, l = 3, 1<<16 // cross-reference stream field widths (a font's /W is small too)
	case "Columns":
		l = 1 << 20 // the PNG predictor allocates a row
	}
	for _, v := range leadingInts(data[end:], max) {
		if v > l {
			return invalidf("/%s %d is out of range", key, v)
		}
	}
	return nil
}

// checkXrefTables checks every classic cross-reference table's subsection headers.
func checkXrefTables(data []byte, limit int64) error {
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte("xref"))
		if j < 0 {
			return nil
		}
		at := i + j
		i = at + len("xref")
		if at >= 5 && string(data[at-5:at]) == "start" {
			continue
		}
		if err := guardXrefTable(data[i:], limit); err != nil {
			return err
		}
	}
}

func isRegular(c byte) bool {
	return !(c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0 || bytes.IndexByte([]byte("()<>[]{}/%"), c) >= 0)
}

// guardXrefTable checks the subsection headers ("START COUNT") of a classic
// cross-reference table, token by token as the reader reads them, up to its trailer.
func guardXrefTable(b []byte, limit int64) error {
	br := bufio.NewReader(bytes.NewReader(b))
	token := func() []byte {
		var t []byte
		for len(t) < 32 {
			c, err := br.ReadByte()
			if err != nil {
				return t
			}
			if c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0 {
				if len(t) > 0 {
					return t
				}
				continue
			}
			t = append(t, c)
		}
		return t
	}
	for {
		start := token()
		if len(start) == 0 || bytes.HasPrefix(start, []byte("trailer")) {
			return nil
		}
		v := leadingInts(start, 1)
		if len(v) != 1 {
			return nil // not a table: the reader will say what is wrong
		}
		if v[0] > limit {
			return invalidf("xref subsection start %d is out of range", v[0])
		}
		c := leadingInts(token(), 1)
		if len(c) != 1 || c[0] > limit {
			return nil
		}
		for i := int64(0); i < 3*c[0]; i++ {
			if len(token()) == 0 {
				return nil
			}
		}
	}
}

// leadingInts parses up to max integers at the start of b, skipping white space and '['.
func leadingInts(b []byte, max int) []int64 {
	var out []int64
	i := 0
	for len(out) < max {
		for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t' || b[i] == '\f' || b[i] == 0 || b[i] == '[') {
			i++
		}
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == i {
			return out
		}
		if j-i > 18 {
			return append(out, 1<<62)
		}
		v, _ := strconv.ParseInt(string(b[i:j]), 10, 64)
		out = append(out, v)
		i = j
	}
	return out
}

// OpenRevision opens the revision that ends at end (a prefix of data, which must have
// passed Check) under recover and checks the object streams the revision's
// cross-reference table uses. An encrypted revision opens when the empty user password
// opens it (an owner-password-only file); else the error is ErrPasswordRequired, or
// ErrEncrypted for a security handler the reader does not know.
func OpenRevision(data []byte, end int, lim Limits) (r *pdf.Reader, err error) {
	lim = lim.withDefaults()
	if end < 0 || end > len(data) {
		return nil, invalidf("revision end %d out of range", end)
	}
	tail := data[max(0, end-lim.EOFWindow):end]
	if !bytes.Contains(tail, []byte("%%EOF")) {
		return nil, invalidf("no %%%%EOF in the last %d bytes", lim.EOFWindow)
	}
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, invalidf("%v", p)
		}
	}()
	r, err = pdf.NewReader(bytes.NewReader(data[:end]), int64(end))
	if err != nil {
		if errors.Is(err, pdf.ErrPasswordRequired) {
			return nil, &Error{Encrypted: true, PasswordRequired: true}
		}
		// Other encryption schemes (a public-key handler, ...) fail before the trailer.
		if bytes.Contains(data[max(0, end-4096):end], []byte("/Encrypt")) {
			return nil, errEncrypted
		}
		return nil, invalidf("%v", err)
	}
	if err := guardObjectStreams(r, lim.MaxObjStmDecoded); err != nil {
		return nil, err
	}
	return r, nil
}

// ReadStream reads at most n decoded bytes of stream v; ok is false when the stream
// cannot be decoded (the reader's panics included) or is longer than n.
func ReadStream(v pdf.Value, n int64) (b []byte, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			b, ok = nil, false
		}
	}()
	rc := v.Reader()
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, n+1))
	if err != nil || int64(len(b)) > n {
		return nil, false
	}
	return b, true
}
