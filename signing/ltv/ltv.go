package ltv

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/motlan/motlan/signing/pades"
)

// Level is a long-term PAdES baseline level.
type Level string

const (
	LevelLT  Level = "B-LT"
	LevelLTA Level = "B-LTA"
)

// Defaults of Config.
const (
	DefaultFetchTimeout  = 10 * time.Second
	DefaultMaxResponse   = 4 << 20 // one OCSP response, CRL or certificate
	DefaultMaxInputSize  = pades.DefaultMaxInputSize
	maxCertsPerDocument  = 256
	maxFetchesPerExtend  = 64
	maxChainLength       = 8
	defaultTotalDeadline = time.Minute
)

// Errors callers branch on (errors.Is). Fetch failures are *FetchError, which matches
// ErrFetch.
var (
	ErrInvalidPDF    = errors.New("ltv: invalid PDF")
	ErrEncrypted     = errors.New("ltv: encrypted PDF")
	ErrTooLarge      = errors.New("ltv: input too large")
	ErrLocked        = errors.New("ltv: document certified with no changes allowed")
	ErrNotSigned     = errors.New("ltv: the PDF has no signature")
	ErrBadSignature  = errors.New("ltv: a signature's CMS cannot be read")
	ErrUnknownLevel  = errors.New("ltv: level must be B-LT or B-LTA")
	ErrNoTimestamp   = errors.New("ltv: B-LTA needs a timestamp authority, which is not configured")
	ErrNoIssuer      = errors.New("ltv: a certificate's issuer was not found")
	ErrFetch         = errors.New("ltv: fetching revocation data failed")
	ErrTimestamp     = errors.New("ltv: document timestamp failed")
	ErrNoRevocation  = errors.New("ltv: the responder does not know the certificate")
	errAlreadyStored = errors.New("ltv: the DSS already holds this evidence")
)

// FetchError reports an OCSP, CRL or certificate download that failed: the URL, what was
// fetched and why. It matches ErrFetch.
type FetchError struct {
	Kind   string // "ocsp", "crl" or "certificate"
	URL    string
	Serial string // hex serial of the certificate the evidence is for (not its subject: personal data)
	Err    error
}

func (e *FetchError) Error() string {
	return fmt.Sprintf("ltv: %s for certificate %s from %s: %v", e.Kind, e.Serial, e.URL, e.Err)
}
func (e *FetchError) Unwrap() error        { return e.Err }
func (e *FetchError) Is(target error) bool { return target == ErrFetch }

// Config configures New.
type Config struct {
	// HTTPClient fetches OCSP responses, CRLs and missing CA certificates. Default: a
	// client with FetchTimeout over NewTransport(AllowPrivateNetworks).
	HTTPClient *http.Client
	// AllowPrivateNetworks lets the default client reach loopback, private, link-local and
	// the other special-purpose addresses (a CA whose responder is internal). Off by
	// default: see ErrPrivateAddress and NewTransport.
	AllowPrivateNetworks bool
	// Roots and Intermediates help build chains beside the certificates the CMS carries
	// (signers often omit the root). Roots are self-signed trust anchors.
	Roots, Intermediates []*x509.Certificate
	// Timestamp obtains RFC 3161 tokens for B-LTA's document timestamp; nil disables B-LTA.
	Timestamp pades.TimestampFunc
	// FetchTimeout bounds each download (DefaultFetchTimeout); MaxResponse its size.
	FetchTimeout time.Duration
	MaxResponse  int64
	// MaxInputSize bounds the PDF (DefaultMaxInputSize).
	MaxInputSize int64
	// Now stamps the VRI entries' /TU (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Extender collects validation evidence and extends signed PDFs. Safe for concurrent use.
type Extender struct {
	cfg   Config
	log   *slog.Logger
	known []*x509.Certificate
}

// New checks cfg and returns an Extender.
func New(cfg Config) (*Extender, error) {
	if cfg.FetchTimeout < 0 || cfg.MaxResponse < 0 || cfg.MaxInputSize < 0 {
		return nil, errors.New("ltv: negative limit in Config")
	}
	if cfg.FetchTimeout == 0 {
		cfg.FetchTimeout = DefaultFetchTimeout
	}
	if cfg.MaxResponse == 0 {
		cfg.MaxResponse = DefaultMaxResponse
	}
	if cfg.MaxInputSize == 0 {
		cfg.MaxInputSize = DefaultMaxInputSize
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: cfg.FetchTimeout, Transport: NewTransport(cfg.AllowPrivateNetworks)}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	e := &Extender{cfg: cfg, log: cfg.Logger.With("component", "ltv")}
	for _, c := range append(append([]*x509.Certificate{}, cfg.Roots...), cfg.Intermediates...) {
		if c == nil {
			return nil, errors.New("ltv: nil certificate in Config")
		}
		e.known = append(e.known, c)
	}
	return e, nil
}

// CanArchive reports whether B-LTA is available (a timestamp authority is configured).
func (e *Extender) CanArchive() bool { return e.cfg.Timestamp != nil }

// Collect gathers the evidence that validates every signature and document timestamp of
// the signed PDF: certificates, OCSP responses and CRLs, and per signature a VRI entry
// naming the items that validate it. ErrNotSigned when it has none. Every item is
// mandatory: the first that cannot be had is the error.
func (e *Extender) Collect(ctx context.Context, pdf []byte) (pades.Evidence, error) {
	ev, _, err := e.collect(ctx, pdf, nil)
	return ev, err
}

// Gap is evidence that could not be collected for a signature other than the one
// ExtendOptions.Mandatory names: another signer's responder was unreachable, its CA
// certificate could not be downloaded, ... That signature stays at its level; the
// citizen's does not depend on it.
type Gap struct {
	Field  string `json:"field"`            // the signature field
	Kind   string `json:"kind,omitempty"`   // "ocsp", "crl", "certificate" (a *FetchError), else empty
	URL    string `json:"url,omitempty"`    // where it was fetched from
	Serial string `json:"serial,omitempty"` // hex serial of the certificate it is for
	Reason string `json:"reason"`           // what went wrong, without personal data
}

// collect is Collect where mandatory, when not nil, limits the mandatory evidence to the
// signatures whose CMS carries that certificate; the others' failures become gaps.
func (e *Extender) collect(ctx context.Context, pdf []byte, mandatory *x509.Certificate) (pades.Evidence, []Gap, error) {
	if int64(len(pdf)) > e.cfg.MaxInputSize {
		return pades.Evidence{}, nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(pdf), e.cfg.MaxInputSize)
	}
	sigs, err := signatures(pdf)
	if err != nil {
		return pades.Evidence{}, nil, err
	}
	if len(sigs) == 0 {
		return pades.Evidence{}, nil, ErrNotSigned
	}
	perSig := make([][]*x509.Certificate, len(sigs))
	total := 0
	for i, s := range sigs {
		cs, err := cmsCertificates(s.contents, 0)
		if err != nil {
			return pades.Evidence{}, nil, fmt.Errorf("%w: field %q: %v", ErrBadSignature, s.field, err)
		}
		perSig[i] = cs
		if total += len(cs); total > maxCertsPerDocument {
			return pades.Evidence{}, nil, fmt.Errorf("%w: more than %d certificates", ErrBadSignature, maxCertsPerDocument)
		}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTotalDeadline)
		defer cancel()
	}
	c := &collector{e: e, pool: newCertPool(e.known), links: map[string]*certLinks{}, crls: map[string][]byte{}}
	for _, cs := range perSig {
		for _, cert := range cs {
			c.pool.add(cert)
		}
	}
	required := func(i int) bool { return mandatory == nil || holds(perSig[i], mandatory) }
	// The mandatory chains first: a shared issuer's evidence is then held to their rule,
	// and no other signer's slow responder uses up their time or download budget.
	var gaps []Gap
	for _, pass := range []bool{true, false} {
		for i, cs := range perSig {
			if required(i) != pass {
				continue
			}
			for _, cert := range cs {
				err := c.chain(ctx, cert)
				switch {
				case err == nil:
				case pass || ctx.Err() != nil: // the citizen's, or out of time
					return pades.Evidence{}, nil, err
				default:
					gaps = append(gaps, gapOf(sigs[i].field, err))
					e.log.WarnContext(ctx, "ltv: evidence for another signature is missing", "field", sigs[i].field, "err", err)
				}
			}
		}
	}
	now := e.cfg.Now()
	for i, s := range sigs {
		if len(perSig[i]) == 0 {
			continue // a CMS without certificates: nothing to say about it
		}
		c.ev.VRI = append(c.ev.VRI, c.vriEntry(s.contents, perSig[i], now))
	}
	return c.ev, gaps, nil
}

func holds(cs []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range cs {
		if x.Equal(c) {
			return true
		}
	}
	return false
}

func gapOf(field string, err error) Gap {
	g := Gap{Field: field, Reason: err.Error()}
	var fe *FetchError
	if errors.As(err, &fe) {
		g.Kind, g.URL, g.Serial, g.Reason = fe.Kind, fe.URL, fe.Serial, fe.Err.Error()
	}
	return g
}

// Extend takes a signed PDF to level: B-LT adds a /DSS with the evidence Collect
// gathers; B-LTA then adds a document timestamp. A PDF already at B-LTA gets fresh
// evidence and another document timestamp. Earlier bytes are kept unchanged. All
// evidence is mandatory (ExtendWith relaxes that).
func (e *Extender) Extend(ctx context.Context, pdf []byte, level Level) ([]byte, error) {
	res, err := e.ExtendWith(ctx, pdf, level, ExtendOptions{})
	return res.PDF, err
}

// ExtendOptions adjust ExtendWith.
type ExtendOptions struct {
	// Mandatory, when set, is the certificate whose signatures' evidence must be
	// complete (the citizen who just signed); the evidence of every other signature is
	// collected where it can be and its gaps are reported.
	Mandatory *x509.Certificate
}

// Result is the extended PDF and the evidence that could not be collected for other
// signatures.
type Result struct {
	PDF  []byte
	Gaps []Gap
}

// ExtendWith is Extend with options.
func (e *Extender) ExtendWith(ctx context.Context, pdf []byte, level Level, opt ExtendOptions) (Result, error) {
	switch level {
	case LevelLT:
	case LevelLTA:
		if e.cfg.Timestamp == nil {
			return Result{}, ErrNoTimestamp
		}
	default:
		return Result{}, fmt.Errorf("%w: %q", ErrUnknownLevel, level)
	}
	ev, gaps, err := e.collect(ctx, pdf, opt.Mandatory)
	if err != nil {
		return Result{}, err
	}
	out, err := addDSS(ctx, pdf, ev)
	switch {
	case errors.Is(err, errAlreadyStored):
		out = pdf // nothing new to record: the file is already B-LT with this evidence
	case err != nil:
		return Result{}, err
	}
	if level == LevelLT {
		return Result{PDF: out, Gaps: gaps}, nil
	}
	var buf bytes.Buffer
	buf.Grow(len(out) + 24<<10)
	if err := pades.AddDocumentTimestamp(ctx, bytes.NewReader(out), int64(len(out)), &buf, e.cfg.Timestamp); err != nil {
		return Result{}, padesError(err)
	}
	return Result{PDF: buf.Bytes(), Gaps: gaps}, nil
}

func addDSS(ctx context.Context, pdf []byte, ev pades.Evidence) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(pdf) + 32<<10)
	err := pades.AddDSS(ctx, bytes.NewReader(pdf), int64(len(pdf)), &buf, ev)
	if errors.Is(err, pades.ErrBadOptions) {
		// Every item was parsed by Collect, so AddDSS finds fault only with evidence it
		// already holds.
		return nil, errAlreadyStored
	}
	if err != nil {
		return nil, padesError(err)
	}
	return buf.Bytes(), nil
}

// padesError maps pades' input errors to this package's.
func padesError(err error) error {
	var overflow *pades.ContentsOverflowError
	switch {
	case errors.Is(err, pades.ErrInvalidPDF):
		return fmt.Errorf("%w: %v", ErrInvalidPDF, err)
	case errors.Is(err, pades.ErrEncrypted):
		return ErrEncrypted
	case errors.Is(err, pades.ErrInputTooLarge):
		return fmt.Errorf("%w: %v", ErrTooLarge, err)
	case errors.Is(err, pades.ErrDocumentLocked):
		return ErrLocked
	case errors.Is(err, pades.ErrTimestamp), errors.As(err, &overflow):
		return fmt.Errorf("%w: %v", ErrTimestamp, err)
	}
	return err
}
