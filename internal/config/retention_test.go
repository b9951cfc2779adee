package config

import (
	"strings"
	"testing"
	"time"
)

func TestRetention(t *testing.T) {
	h := func(n int) Duration { return Duration(time.Duration(n) * time.Hour) }
	tests := []struct {
		name string
		in   Retention
		err  string // "" when valid
	}{
		{"defaults", Retention{}, ""},
		{"shorter documents", Retention{Documents: h(240), UnsignedDocuments: h(24)}, ""},
		{"requests as long as documents", Retention{Documents: h(2000), Requests: h(2000)}, ""},
		{"requests shorter than documents", Retention{Documents: h(2000), Requests: h(1000)}, "retention.requests"},
		{"requests shorter than unsigned", Retention{UnsignedDocuments: h(9000)}, "retention.requests"},
		{"documents for minutes", Retention{Documents: Duration(30 * time.Minute)}, "retention.documents"},
		{"unsigned for minutes", Retention{UnsignedDocuments: Duration(time.Minute)}, "retention.unsigned_documents"},
		{"interval too short", Retention{Interval: Duration(time.Second)}, "retention.interval"},
		{"interval too long", Retention{Interval: h(48)}, "retention.interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.in
			r.applyDefaults()
			errs := r.validate()
			switch {
			case tt.err == "" && len(errs) > 0:
				t.Errorf("%+v: %v", r, errs)
			case tt.err != "" && (len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.err)):
				t.Errorf("%+v: %v, want one error about %s", r, errs, tt.err)
			}
		})
	}
	var r Retention
	r.applyDefaults()
	if r.Documents != DefaultRetentionDocuments || r.UnsignedDocuments != DefaultRetentionUnsignedDocuments ||
		r.Requests != DefaultRetentionRequests || r.Interval != DefaultRetentionInterval {
		t.Errorf("defaults: %+v", r)
	}
}
