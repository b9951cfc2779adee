package signing

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/motlan/motlan/signing/ltv"
)

// longTermUnsupported says why level (B-LT or B-LTA) cannot be produced here, or "".
func (s *Service) longTermUnsupported(level Level) string {
	switch {
	case s.cfg.Timestamp == nil:
		return "level " + string(level) + " needs a timestamp authority, which is not configured"
	case s.cfg.LTV == nil:
		return "level " + string(level) + " needs long-term validation, which is not configured"
	case level == LevelBLTA && !s.cfg.LTV.CanArchive():
		return "level B-LTA needs a timestamp authority for the document timestamp, which is not configured"
	}
	return ""
}

// Extend takes a signed PDF (anyone's, not only Motlan's) to level B-LT or B-LTA: the
// archive's call. It adds the validation evidence of every signature and document
// timestamp (and for B-LTA a document timestamp) as incremental updates, so earlier
// signatures stay valid. Bad input is an *InputError; ErrUpstream when a responder, CRL
// or the TSA could not be reached.
func (s *Service) Extend(ctx context.Context, pdf []byte, level Level) ([]byte, error) {
	bad := func(code, format string, args ...any) ([]byte, error) {
		return nil, &InputError{Index: 0, Code: code, Msg: fmt.Sprintf(format, args...)}
	}
	if level != LevelBLT && level != LevelBLTA {
		return nil, &InputError{Index: -1, Code: CodeInvalid, Msg: "level must be B-LT or B-LTA"}
	}
	if msg := s.longTermUnsupported(level); msg != "" {
		return nil, &InputError{Index: -1, Code: CodeUnsupportedLevel, Msg: msg}
	}
	if int64(len(pdf)) > s.cfg.MaxDocumentSize {
		return bad(CodeTooLarge, "%d bytes; at most %d", len(pdf), s.cfg.MaxDocumentSize)
	}
	out, err := s.cfg.LTV.Extend(ctx, pdf, ltv.Level(level))
	if err != nil {
		if ie := ltvInputError(err, pdf); ie != nil {
			return nil, ie
		}
		var fe *ltv.FetchError
		if errors.As(err, &fe) || errors.Is(err, ltv.ErrTimestamp) {
			s.log.WarnContext(ctx, "signing: extend: upstream failed", "level", level, "err", err)
			return nil, fmt.Errorf("%w: %w", ErrUpstream, err)
		}
		return nil, fmt.Errorf("signing: extend: %w", err)
	}
	s.log.InfoContext(ctx, "signing: extended a signed PDF", "level", level, "bytes_in", len(pdf), "bytes_added", len(out)-len(pdf))
	return out, nil
}

// ltvInputError turns the extender's errors about the input into an *InputError (for
// document 0), or nil for faults that are not the input's.
func ltvInputError(err error, pdf []byte) *InputError {
	ie := func(code, msg string) *InputError { return &InputError{Index: 0, Code: code, Msg: msg} }
	switch {
	case errors.Is(err, ltv.ErrInvalidPDF):
		if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
			return ie(CodeNotPDF, "the file is not a PDF")
		}
		return ie(CodeDamaged, "the PDF cannot be read")
	case errors.Is(err, ltv.ErrEncrypted):
		return ie(CodePasswordRequired, MsgPasswordRequired)
	case errors.Is(err, ltv.ErrTooLarge):
		return ie(CodeTooLarge, "the PDF is too large")
	case errors.Is(err, ltv.ErrLocked):
		return ie(CodeLocked, "the PDF is certified with no changes allowed")
	case errors.Is(err, ltv.ErrNotSigned):
		return ie(CodeNotSigned, "the PDF has no signature to extend")
	case errors.Is(err, ltv.ErrBadSignature):
		return ie(CodeDamaged, "a signature's CMS cannot be read")
	case errors.Is(err, ltv.ErrNoIssuer):
		return ie(CodeUnknownIssuer, "a certificate's issuer is not in the PDF, not configured and not downloadable")
	}
	return nil
}
