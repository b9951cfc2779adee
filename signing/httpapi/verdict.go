package httpapi

import (
	"time"

	"github.com/motlan/motlan/signing/verify"
)

// The verification report for people: each signature also carries a verdict in citizen
// words ("Chữ ký hợp lệ", the signer, the time), so a portal shows that and keeps the
// technical report (TOTAL_PASSED, PAdES levels) behind a "chi tiết" link.

type reportJSON struct {
	verify.Report
	Signatures []signatureJSON `json:"signatures"`
}

type signatureJSON struct {
	verify.Signature
	Citizen verdict `json:"citizen"`
}

// verdict is one signature in citizen words, Vietnamese and English.
type verdict struct {
	Valid  bool       `json:"valid"`
	VI     string     `json:"vi"` // "Chữ ký hợp lệ", "Chữ ký không hợp lệ", "Chưa xác định được chữ ký"
	EN     string     `json:"en"`
	Signer string     `json:"signer,omitempty"`
	Time   *time.Time `json:"time,omitempty"` // the timestamp's time, else the time the signer claimed
}

func citizenReport(rep verify.Report) reportJSON {
	out := reportJSON{Report: rep, Signatures: make([]signatureJSON, 0, len(rep.Signatures))}
	for _, s := range rep.Signatures {
		out.Signatures = append(out.Signatures, signatureJSON{Signature: s, Citizen: verdictOf(s)})
	}
	return out
}

func verdictOf(s verify.Signature) verdict {
	v := verdict{}
	switch s.Indication {
	case verify.TotalPassed:
		v.Valid, v.VI, v.EN = true, "Chữ ký hợp lệ", "Valid signature"
	case verify.TotalFailed:
		v.VI, v.EN = "Chữ ký không hợp lệ", "Invalid signature"
	default:
		v.VI, v.EN = "Chưa xác định được chữ ký", "The signature could not be confirmed"
	}
	if s.Signer != nil {
		v.Signer = s.Signer.Name
	}
	switch {
	case s.Timestamp != nil && s.Timestamp.SignatureValid && s.Timestamp.ImprintMatches:
		t := s.Timestamp.Time.UTC()
		v.Time = &t
	case s.ClaimedTime != nil:
		t := s.ClaimedTime.UTC()
		v.Time = &t
	}
	return v
}
