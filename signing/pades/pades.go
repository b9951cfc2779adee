package pades

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"
)

// Signer is the private-key seam: a key vault, an HSM or a phone approval implements it.
// Sign receives the SHA-256 digest of the DER-encoded signed attributes and returns the
// signature in the form crypto.Signer uses (ASN.1 DER for ECDSA, PKCS #1 v1.5 for RSA).
type Signer interface {
	Public() crypto.PublicKey
	Sign(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error)
}

// FromCryptoSigner adapts a crypto.Signer (which has no context) to Signer.
func FromCryptoSigner(s crypto.Signer) Signer { return cryptoSigner{s} }

type cryptoSigner struct{ s crypto.Signer }

func (c cryptoSigner) Public() crypto.PublicKey { return c.s.Public() }

func (c cryptoSigner) Sign(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.s.Sign(nil, digest, opts) // ECDSA and RSA PKCS #1 v1.5 read crypto/rand themselves when rand is nil
}

// Level is the PAdES baseline level.
type Level int

const (
	// LevelBB is PAdES-B-B: signed attributes only.
	LevelBB Level = iota
	// LevelBT is PAdES-B-T: B-B plus a signature timestamp from a TSA.
	LevelBT
)

func (l Level) String() string {
	switch l {
	case LevelBB:
		return "B-B"
	case LevelBT:
		return "B-T"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// TimestampFunc obtains an RFC 3161 TimeStampToken (the DER ContentInfo, not the whole
// TimeStampResp) over digest, which is the hash h of the CMS SignatureValue.
type TimestampFunc func(ctx context.Context, digest []byte, h crypto.Hash) (token []byte, err error)

// Appearance places a visible signature. A nil *Appearance makes the signature invisible.
type Appearance struct {
	// Page is the 1-based page number; 0 means the first page.
	Page int
	// Rect is the widget rectangle in default user space: llx, lly, urx, ury.
	Rect [4]float64
	// Font is a TrueType font (glyf outlines) with Vietnamese glyphs, for example
	// DejaVuSans.ttf. It is subset into the document. Required.
	Font []byte
}

// Default sizes.
const (
	DefaultMaxInputSize     = 64 << 20
	DefaultTimestampReserve = 10 << 10
)

// Options describe one signature.
type Options struct {
	// Certificate is the signer's certificate; its public key must match the Signer's.
	Certificate *x509.Certificate
	// Chain holds the issuing CAs (the root may be included); they go into the CMS.
	Chain []*x509.Certificate

	Reason, Location, ContactInfo string
	// SignerName goes into /Name and the visible text; it defaults to the certificate CN.
	SignerName string
	// FieldName is the signature field's /T; a unique "SignatureN" when empty.
	FieldName string
	// Time is the claimed signing time, written as /M. Zero means time.Now().
	Time time.Time

	Level Level
	// Timestamp is required for LevelBT.
	Timestamp TimestampFunc
	// TimestampReserve is the number of bytes reserved for the timestamp token
	// (DefaultTimestampReserve when 0).
	TimestampReserve int

	Appearance *Appearance

	// MaxInputSize bounds the input (DefaultMaxInputSize when 0).
	MaxInputSize int64
}

// Errors. Input errors wrap ErrInvalidPDF, ErrEncrypted, ErrInputTooLarge or
// ErrDocumentLocked; use errors.Is.
var (
	// ErrInvalidPDF: not a PDF, truncated, broken cross-reference, zero pages, ...
	ErrInvalidPDF = errors.New("pades: invalid PDF")
	// ErrNoPages: the page tree holds no page (it matches ErrInvalidPDF too).
	ErrNoPages = fmt.Errorf("%w: no pages", ErrInvalidPDF)
	// ErrEncrypted: an encrypted PDF that cannot be opened: it needs a password
	// (ErrPasswordRequired) or uses a security handler other than the standard one.
	// Owner-password-only files are signed, the update encrypted as the document is.
	ErrEncrypted = errors.New("pades: encrypted PDF")
	// ErrPasswordRequired: the PDF opens only with a user password (it matches
	// ErrEncrypted too).
	ErrPasswordRequired = fmt.Errorf("%w: it needs a password to open", ErrEncrypted)
	// ErrInputTooLarge: the input exceeds Options.MaxInputSize.
	ErrInputTooLarge = errors.New("pades: input too large")
	// ErrDocumentLocked: a certification signature forbids any change (DocMDP P=1).
	ErrDocumentLocked = errors.New("pades: document certified with no changes allowed")
	// ErrBadOptions: the Options are inconsistent (missing certificate, key mismatch, ...).
	ErrBadOptions = errors.New("pades: bad options")
	// ErrTimestamp: the TSA failed or returned a token that does not match.
	ErrTimestamp = errors.New("pades: timestamp")
)

// ContentsOverflowError reports that the CMS outgrew the /Contents space reserved before
// signing. The signature is discarded; nothing is signed twice.
type ContentsOverflowError struct {
	Reserved, Needed int // bytes of DER
}

func (e *ContentsOverflowError) Error() string {
	return fmt.Sprintf("pades: CMS needs %d bytes but %d were reserved", e.Needed, e.Reserved)
}

// vietnam is Asia/Ho_Chi_Minh: UTC+7 all year (no DST), fixed so no tzdata is needed.
var vietnam = time.FixedZone("ICT", 7*3600)

// Sign reads the PDF in (size bytes), appends a PAdES signature as an incremental update
// and writes the whole signed document to out. s.Sign is called exactly once. Nothing is
// written to out unless signing succeeded.
func Sign(ctx context.Context, in io.ReadSeeker, size int64, out io.Writer, s Signer, opt Options) error {
	if err := opt.check(s); err != nil {
		return err
	}
	max := opt.MaxInputSize
	if max <= 0 {
		max = DefaultMaxInputSize
	}
	if size > max {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrInputTooLarge, size, max)
	}
	if opt.Time.IsZero() {
		opt.Time = time.Now()
	}
	if opt.SignerName == "" {
		opt.SignerName = opt.Certificate.Subject.CommonName
	}
	ra := asReaderAt(in)

	doc, err := openDocument(ra, size)
	if err != nil {
		return err
	}
	reserved := estimateCMSSize(&opt)
	inc, err := buildIncrement(doc, &opt, reserved)
	if err != nil {
		return err
	}

	// Digest of everything but the /Contents hex string: the original, then the increment
	// around the hole.
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(ra, 0, size)); err != nil {
		return fmt.Errorf("pades: reading input: %w", err)
	}
	h.Write(inc.data[:inc.contentsStart])
	h.Write(inc.data[inc.contentsEnd:])

	cms, err := buildCMS(ctx, s, &opt, h.Sum(nil))
	if err != nil {
		return err
	}
	if len(cms) > reserved {
		return &ContentsOverflowError{Reserved: reserved, Needed: len(cms)}
	}
	hex.Encode(inc.data[inc.contentsStart+1:], cms) // after '<'; the rest stays '0' padding

	if _, err := io.Copy(out, io.NewSectionReader(ra, 0, size)); err != nil {
		return fmt.Errorf("pades: writing output: %w", err)
	}
	if _, err := out.Write(inc.data); err != nil {
		return fmt.Errorf("pades: writing output: %w", err)
	}
	return nil
}

func (o *Options) check(s Signer) error {
	if s == nil {
		return fmt.Errorf("%w: no signer", ErrBadOptions)
	}
	if o.Certificate == nil {
		return fmt.Errorf("%w: no certificate", ErrBadOptions)
	}
	pub, ok := o.Certificate.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(s.Public()) {
		return fmt.Errorf("%w: the signer's public key does not match the certificate", ErrBadOptions)
	}
	if _, err := signatureAlgorithm(o.Certificate.PublicKey); err != nil {
		return err
	}
	switch o.Level {
	case LevelBB:
	case LevelBT:
		if o.Timestamp == nil {
			return fmt.Errorf("%w: level B-T needs a Timestamp function", ErrBadOptions)
		}
	default:
		return fmt.Errorf("%w: unknown level %v", ErrBadOptions, o.Level)
	}
	if a := o.Appearance; a != nil {
		if len(a.Font) == 0 {
			return fmt.Errorf("%w: a visible appearance needs a TrueType font", ErrBadOptions)
		}
		if a.Rect[2] <= a.Rect[0] || a.Rect[3] <= a.Rect[1] {
			return fmt.Errorf("%w: empty appearance rectangle", ErrBadOptions)
		}
	}
	return nil
}

// estimateCMSSize returns the number of DER bytes reserved for the CMS.
func estimateCMSSize(o *Options) int {
	n := 2048 // structure, algorithm identifiers, signed attributes
	n += len(o.Certificate.Raw) + 2*len(o.Certificate.RawIssuer)
	for _, c := range o.Chain {
		n += len(c.Raw) + 8
	}
	n += 600 // signature value: RSA-4096 is 512 bytes, ECDSA P-521 about 140
	if o.Level == LevelBT {
		r := o.TimestampReserve
		if r <= 0 {
			r = DefaultTimestampReserve
		}
		n += r
	}
	return n
}

// readerAt turns an io.ReadSeeker into an io.ReaderAt; it is not safe for concurrent use,
// and Sign does not use it concurrently.
type readerAt struct{ rs io.ReadSeeker }

func (r readerAt) ReadAt(p []byte, off int64) (int, error) {
	if _, err := r.rs.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	n, err := io.ReadFull(r.rs, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

func asReaderAt(rs io.ReadSeeker) io.ReaderAt {
	if ra, ok := rs.(io.ReaderAt); ok {
		return ra
	}
	return readerAt{rs}
}
