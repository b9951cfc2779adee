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
	"time"

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

// MsgPasswordRequired tells the citizen (in Vietnamese, then English) how to get a copy
// that can be signed.
const MsgPasswordRequired = "Tệp PDF này cần mật khẩu để mở nên không ký được. Hãy mở tệp bằng mật khẩu, " +
	"chọn In (Print) > Lưu dưới dạng PDF (hoặc Save as PDF không đặt mật khẩu), rồi gửi lại bản mới. / " +
	"This PDF needs a password to open, so it cannot be signed. Open it with its password, print or save it " +
	"as a PDF without a password, and send that copy."

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
	case errors.Is(err, pades.ErrPasswordRequired):
		return 0, &InputError{Code: CodePasswordRequired, Msg: MsgPasswordRequired}
	case errors.Is(err, pades.ErrEncrypted):
		return 0, &InputError{Code: CodeEncrypted, Msg: "the PDF is encrypted with a method other than a password; send a copy without encryption"}
	case errors.Is(err, pades.ErrInputTooLarge):
		return 0, &InputError{Code: CodeTooLarge, Msg: fmt.Sprintf("%d bytes; at most %d", size, c.maxSize)}
	case errors.Is(err, pades.ErrDocumentLocked):
		return 0, &InputError{Code: CodeLocked, Msg: "a certification signature forbids any change to this PDF"}
	case errors.Is(err, pades.ErrNoPages):
		return 0, &InputError{Code: CodeNoPages, Msg: "the PDF has no pages"}
	case errors.Is(err, pades.ErrInvalidPDF):
		return 0, &InputError{Code: CodeDamaged, Msg: "the PDF is truncated or damaged (cross-reference, trailer or page tree)"}
	case err == nil:
		return 0, &InputError{Msg: "dry run signed without the signer"}
	case ctx.Err() != nil:
		return 0, &InputError{Msg: ctx.Err().Error()}
	default:
		return 0, &InputError{Msg: err.Error()}
	}
	// The page count comes from the reader that signs, never from a second one with
	// heuristics of its own: a scan for large numbers once took startxref offsets past
	// 4 MB for hostile object counts.
	n, err := pades.PageCount(bytes.NewReader(b), size)
	if err != nil || n == 0 {
		return 0, &InputError{Msg: fmt.Sprintf("page count after a successful dry run: %v", err)}
	}
	return n, nil
}
