// Package pdfguard opens untrusted PDFs with internal/pdf (Motlan's fork of
// github.com/digitorus/pdf) safely.
//
// The reader bounds what it reads itself (declared counts against the file's size, arrays
// that meet "endobj" or the end of the data, unterminated strings, object streams in
// object streams, /Extends chains) and reports malformed input by panicking.
// OpenRevision opens a revision under recover and bounds the decoded size of the object
// streams its cross-reference table uses; Check only checks the header. Open does both.
//
// Every error of this package is an *Error, which matches ErrInvalid or ErrEncrypted
// with errors.Is; Translate turns it into a caller's own sentinel errors.
package pdfguard

import (
	"bytes"
	"errors"
	"fmt"
	"io"

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
	// MaxSize bounds the input Open accepts (DefaultMaxSize).
	MaxSize int64
	// MaxObjStmDecoded bounds the decoded size of one object stream
	// (DefaultMaxObjStmDecoded); a larger one is rejected.
	MaxObjStmDecoded int64
	// EOFWindow is how close to the end %%EOF must be (DefaultEOFWindow), the tail
	// internal/pdf reads once.
	EOFWindow int
	// CallerWalksPages leaves the page tree to the caller, who walks it anyway under
	// recover (the PAdES signer does, to place the signature): walking it twice cost as
	// much as hashing the file.
	CallerWalksPages bool
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

// Open checks the PDF in r (size bytes) and opens it. The file is not read into memory:
// the reader reads the objects it needs from r, so r must stay readable while the reader
// is used.
func Open(r io.ReaderAt, size int64, lim Limits) (*pdf.Reader, error) {
	lim = lim.withDefaults()
	if size < 0 {
		return nil, invalidf("negative size")
	}
	if size > lim.MaxSize {
		return nil, invalidf("%d bytes, limit %d", size, lim.MaxSize)
	}
	head := make([]byte, min(size, 16))
	if n, err := r.ReadAt(head, 0); n != len(head) {
		return nil, invalidf("reading: %v", err)
	}
	if err := Check(head); err != nil {
		return nil, err
	}
	return openAt(r, size, lim)
}

// Check checks what does not depend on the revision: the header. Everything else that
// once needed a pre-scan (huge declared counts, arrays that meet endobj, unterminated
// strings and arrays in object streams, object streams in object streams) the reader
// now refuses itself, where the values are used: internal/pdf. So no heuristic here can
// refuse a file the reader (and qpdf) would read.
func Check(data []byte) error {
	if len(data) < 16 || !bytes.HasPrefix(data, []byte("%PDF-")) {
		return invalidf("no %%PDF- header")
	}
	return nil
}

// OpenRevision opens the revision that ends at end (a prefix of data, which must have
// passed Check) under recover and checks the object streams the revision's
// cross-reference table uses. An encrypted revision opens when the empty user password
// opens it (an owner-password-only file); else the error is ErrPasswordRequired, or
// ErrEncrypted for a security handler the reader does not know.
func OpenRevision(data []byte, end int, lim Limits) (*pdf.Reader, error) {
	lim = lim.withDefaults()
	if end < 0 || end > len(data) {
		return nil, invalidf("revision end %d out of range", end)
	}
	return openAt(bytes.NewReader(data[:end]), int64(end), lim)
}

// openAt is OpenRevision for the revision that is the whole of ra (end bytes).
func openAt(ra io.ReaderAt, end int64, lim Limits) (r *pdf.Reader, err error) {
	tail := make([]byte, min(end, int64(max(lim.EOFWindow, 4096))))
	if n, rerr := ra.ReadAt(tail, end-int64(len(tail))); n != len(tail) {
		return nil, invalidf("reading: %v", rerr)
	}
	if !bytes.Contains(tail[max(0, len(tail)-lim.EOFWindow):], []byte("%%EOF")) {
		return nil, invalidf("no %%%%EOF in the last %d bytes", lim.EOFWindow)
	}
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, invalidf("%v", p)
		}
	}()
	r, err = pdf.NewReader(ra, end)
	if err != nil {
		if errors.Is(err, pdf.ErrPasswordRequired) {
			return nil, &Error{Encrypted: true, PasswordRequired: true}
		}
		// Other encryption schemes (a public-key handler, ...) fail before the trailer.
		if bytes.Contains(tail[max(0, len(tail)-4096):], []byte("/Encrypt")) {
			return nil, errEncrypted
		}
		return nil, invalidf("%v", err)
	}
	if err := guardObjectStreams(r, lim.MaxObjStmDecoded); err != nil {
		return nil, err
	}
	if !lim.CallerWalksPages {
		if err := walkPages(r, MaxObjects(end)); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// walkPages parses the catalog and every node of the page tree, as qpdf --check does, so
// that a malformed one (the reader panics, recovered by the caller) is refused here with
// its reason rather than later, half-way through signing. budget bounds the nodes visited
// (a Kids cycle included).
func walkPages(r *pdf.Reader, budget int64) error {
	root := r.Trailer().Key("Root")
	if root.Kind() != pdf.Dict {
		return invalidf("no document catalog")
	}
	// Iterative, so that no depth of tree can exhaust the stack.
	todo := []pdf.Value{root.Key("Pages")}
	for len(todo) > 0 {
		n := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if budget--; budget < 0 {
			return invalidf("the page tree has more nodes than the file has objects (a cycle?)")
		}
		kids := n.Key("Kids")
		for i := range kids.Len() {
			todo = append(todo, kids.Index(i))
		}
	}
	return nil
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
