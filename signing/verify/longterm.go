package verify

import (
	"crypto/x509"
	"fmt"
	"sort"
	"time"
)

// docTSInfo is a document timestamp whose token is valid, and the SHA-256 (hex) of the
// DSS items of the revision it covers. When proven (TOTAL_PASSED: also its TSA's
// revocation) it is a proof of existence at time for the bytes before end; a valid
// token alone still makes the level B-LTA.
type docTSInfo struct {
	end    int64
	time   time.Time
	field  string
	sums   map[string]bool
	proven bool
}

// poe returns the earliest valid document timestamp that covers bytes ending at end.
func (v *verifier) poe(end int64) (time.Time, string) {
	var best time.Time
	field := ""
	for _, d := range v.docTS {
		if d.proven && end > 0 && d.end > end && (best.IsZero() || d.time.Before(best)) {
			best, field = d.time, d.field
		}
	}
	return best, field
}

// poesFor lists the document timestamps covering bytes ending at end, earliest first.
func (v *verifier) poesFor(end int64) []POE {
	var out []POE
	for _, d := range v.docTS {
		if d.proven && end > 0 && d.end > end {
			out = append(out, POE{Time: d.time, Source: "document_timestamp", FieldName: d.field})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// evidencePOE returns the earliest valid document timestamp whose covered DSS holds it.
func (v *verifier) evidencePOE(it *evItem) time.Time {
	var best time.Time
	h := sumHex(it.sum)
	for _, d := range v.docTS {
		if d.proven && d.sums[h] && (best.IsZero() || d.time.Before(best)) {
			best = d.time
		}
	}
	return best
}

// judgeRevocation turns the statuses of s.Revocation into the indication. src is where
// the time the signer's statuses were checked at came from.
func (v *verifier) judgeRevocation(s *Signature, src string) {
	for _, cs := range s.Revocation {
		what := fmt.Sprintf("%s certificate %q (serial %s)", cs.Role, cs.Subject, cs.Serial)
		switch cs.Status {
		case StatusRevoked:
			msg := fmt.Sprintf("the %s was revoked on %s (%s), not after %s", what, cs.RevokedAt.UTC().Format(time.RFC3339), cs.Reason, cs.CheckedAt.Format(time.RFC3339))
			leaf := cs.Role == "signer" || (cs.Role == "timestamp" && s.Type == "document_timestamp")
			switch {
			case leaf && src != "validation_time":
				s.fail(TotalFailed, Revoked, msg)
			case leaf:
				s.fail(Indeterminate, RevokedNoPOE, msg)
			case cs.Role == "signer_ca", s.Type == "document_timestamp":
				s.fail(Indeterminate, RevokedCANoPOE, msg)
			default: // the signature timestamp's TSA: the timestamp was already set aside
				s.Warnings = append(s.Warnings, msg)
			}
		case StatusUnknown:
			msg := fmt.Sprintf("no revocation evidence in the file covers the %s at %s", what, cs.CheckedAt.Format(time.RFC3339))
			switch {
			case !v.requireRev:
				s.Warnings = append(s.Warnings, "revocation not checked: "+msg)
			case v.at.After(cs.notAfter):
				s.fail(Indeterminate, RevocationOutOfBoundsNoPOE, msg+"; the certificate expired on "+cs.notAfter.UTC().Format(time.RFC3339))
			default:
				s.fail(Indeterminate, TryLater, msg)
			}
		}
	}
}

// longTermLevel raises a B-T signature to B-LT and B-LTA (ETSI EN 319 142-1 6.3): the
// DSS holds revocation evidence for the signer's and the signature timestamp's TSA
// certificates and the file their CA certificates (LT); a valid document timestamp
// covers that DSS evidence (LTA).
func (v *verifier) longTermLevel(s *Signature, paths ...[]*x509.Certificate) {
	var reasons []string
	decisive := map[string][]string{}
	for _, role := range []string{"signer", "timestamp"} {
		var cs *CertStatus
		for i := range s.Revocation {
			if s.Revocation[i].Role == role {
				cs = &s.Revocation[i]
			}
		}
		name := map[string]string{"signer": "the signer's certificate", "timestamp": "the signature timestamp's TSA certificate"}[role]
		// The level says what the file holds, whatever the validation time: evidence
		// that verifies, even if not current at the time checked.
		if cs != nil {
			for _, e := range cs.Evidence {
				if e.verified && (e.Source == SourceDSS || e.Source == SourceVRI) {
					decisive[role] = append(decisive[role], e.SHA256)
				}
			}
		}
		if len(decisive[role]) == 0 {
			reasons = append(reasons, "B-LT: the DSS holds no usable revocation evidence for "+name)
		}
	}
	for _, p := range paths {
		for i := 1; i+1 < len(p); i++ {
			if !containsDER(v.pool.certs, p[i]) {
				reasons = append(reasons, "B-LT: the file does not hold the CA certificate "+p[i].Subject.String())
			}
		}
	}
	if len(reasons) > 0 {
		s.LevelReasons = append(s.LevelReasons, reasons...)
		return
	}
	s.Level = "B-LT"
	for _, d := range v.docTS {
		if d.end <= s.Coverage.SignedEnd {
			continue
		}
		covered := func(sums []string) bool {
			for _, h := range sums {
				if d.sums[h] {
					return true
				}
			}
			return false
		}
		if covered(decisive["signer"]) && covered(decisive["timestamp"]) {
			s.Level = "B-LTA"
			return
		}
	}
	s.LevelReasons = append(s.LevelReasons, "B-LTA: no valid document timestamp covers the DSS evidence")
}
