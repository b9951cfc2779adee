package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"regexp"
	"strconv"
	"time"

	"github.com/digitorus/pdf"

	"github.com/motlan/motlan/signing/pades"
)

// intakeChecker validates an uploaded PDF with the very code that will sign it: a dry run
// of pades.Sign with a throwaway key whose Sign refuses. The dry run parses the document
// with pades' guards (header, %%EOF, cross-reference bounds, encryption, DocMDP, pages)
// and builds the incremental update; reaching the signer means the document can be
// signed. Nothing is written.
type intakeChecker struct {
	cert    *x509.Certificate
	pub     crypto.PublicKey
	maxSize int64
}

var errDryRun = errors.New("signing: dry run")

type drySigner struct{ pub crypto.PublicKey }

func (d drySigner) Public() crypto.PublicKey { return d.pub }
func (d drySigner) Sign(context.Context, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errDryRun
}

func newIntakeChecker(maxSize int64) (intakeChecker, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return intakeChecker{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "Motlan intake check"},
		NotBefore:    time.Unix(0, 0),
		NotAfter:     time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return intakeChecker{}, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return intakeChecker{}, err
	}
	return intakeChecker{cert: cert, pub: key.Public(), maxSize: maxSize}, nil
}

// check returns the page count, or an *InputError (Index to be set by the caller). An
// InputError with an empty Code is a fault of ours, not of the input.
func (c intakeChecker) check(ctx context.Context, b []byte) (int, *InputError) {
	size := int64(len(b))
	switch {
	case size > c.maxSize:
		return 0, &InputError{Code: CodeTooLarge, Msg: fmt.Sprintf("%d bytes; at most %d", size, c.maxSize)}
	case !bytes.HasPrefix(b, []byte("%PDF-")):
		return 0, &InputError{Code: CodeNotPDF, Msg: "the file does not start with %PDF-"}
	}
	err := pades.Sign(ctx, bytes.NewReader(b), size, io.Discard, drySigner{c.pub},
		pades.Options{Certificate: c.cert, Level: pades.LevelBB, MaxInputSize: c.maxSize, Time: time.Unix(0, 0)})
	switch {
	case errors.Is(err, errDryRun):
	case errors.Is(err, pades.ErrEncrypted):
		return 0, &InputError{Code: CodeEncrypted, Msg: "encrypted PDFs cannot be signed"}
	case errors.Is(err, pades.ErrInputTooLarge):
		return 0, &InputError{Code: CodeTooLarge, Msg: fmt.Sprintf("%d bytes; at most %d", size, c.maxSize)}
	case errors.Is(err, pades.ErrDocumentLocked):
		return 0, &InputError{Code: CodeLocked, Msg: "a certification signature forbids any change to this PDF"}
	case errors.Is(err, pades.ErrInvalidPDF):
		if n, perr := countPages(b); perr == nil && n == 0 {
			return 0, &InputError{Code: CodeNoPages, Msg: "the PDF has no pages"}
		}
		return 0, &InputError{Code: CodeDamaged, Msg: "the PDF is truncated or damaged (cross-reference, trailer or page tree)"}
	case err == nil:
		return 0, &InputError{Msg: "dry run signed without the signer"}
	case ctx.Err() != nil:
		return 0, &InputError{Msg: ctx.Err().Error()}
	default:
		return 0, &InputError{Msg: err.Error()}
	}
	n, err := countPages(b)
	if err != nil || n == 0 {
		return 0, &InputError{Code: CodeDamaged, Msg: "the page tree cannot be read"}
	}
	return n, nil
}

// hostileNumbers finds what would make the PDF reader allocate by a declared count before
// checking it: /Size, /Index entries and xref subsection headers beyond maxObjects.
var hostileNumbers = regexp.MustCompile(`(?:/Size|/Index\s*\[|xref\s)\s*(\d{7,})`)

const maxObjects = 4 << 20

// countPages walks the page tree as pades does (depth and visit bounded). pades has
// checked the input when it is called for a page count; on the no-pages diagnosis path
// the input only passed the header check, so hostile counts are screened first.
func countPages(b []byte) (n int, err error) {
	for _, m := range hostileNumbers.FindAllSubmatch(b, 64) {
		if v, perr := strconv.ParseInt(string(m[1]), 10, 64); perr != nil || v > maxObjects {
			return 0, errors.New("object count out of range")
		}
	}
	defer func() {
		if p := recover(); p != nil {
			n, err = 0, fmt.Errorf("pdf reader: %v", p)
		}
	}()
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return 0, err
	}
	type ref struct {
		id  uint32
		gen uint16
	}
	seen := map[ref]bool{}
	var walk func(v pdf.Value, depth int)
	walk = func(v pdf.Value, depth int) {
		if depth > 64 || v.Kind() != pdf.Dict || n > 1<<20 {
			return
		}
		p := v.GetPtr()
		k := ref{p.GetID(), p.GetGen()}
		if seen[k] {
			return
		}
		seen[k] = true
		kids := v.Key("Kids")
		if v.Key("Type").Name() == "Page" || kids.Kind() != pdf.Array {
			n++
			return
		}
		for i := 0; i < kids.Len(); i++ {
			walk(kids.Index(i), depth+1)
		}
	}
	walk(r.Trailer().Key("Root").Key("Pages"), 0)
	return n, nil
}
