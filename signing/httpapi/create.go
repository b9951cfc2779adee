package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/motlan/motlan/internal/ratelimit"
	"github.com/motlan/motlan/signing"
)

const (
	formSlack     = 1 << 20 // multipart headers and text fields beyond the documents
	maxFieldBytes = 4 << 10 // one text field (placement JSON included)
	maxTitleRunes = 200
	maxTextRunes  = 500
	maxKeyLen     = 255
)

// ProblemUnsupportedMediaType answers a create that is not multipart/form-data (415).
const ProblemUnsupportedMediaType = ProblemBase + "unsupported-media-type"

// createForm is the multipart upload as read, before validation.
type createForm struct {
	fields     map[string]string // single-valued fields
	titles     []string
	placements []string
	docs       []signing.DocumentInput
	filenames  []string
}

var singleFields = map[string]bool{"subject": true, "reason": true, "location": true, "level": true, "callback_url": true, "return_url": true, "ttl": true}

func (a *API) handleCreate(w http.ResponseWriter, r *http.Request, c Caller) error {
	start := a.now()
	key, p := idempotencyKey(r.Header.Values("Idempotency-Key"))
	if p != nil {
		return p
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return problem(http.StatusUnsupportedMediaType, ProblemUnsupportedMediaType, "Unsupported media type", "send multipart/form-data")
	}
	if p := a.createAllowed(w, r, ratelimit.Client(c.ClientID)); p != nil {
		return p
	}
	limit := a.maxDoc*int64(a.maxDocs) + formSlack
	if r.ContentLength > limit {
		return tooLarge(limit, -1, "the upload exceeds the request size limit")
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	f, err := a.readForm(multipart.NewReader(body, params["boundary"]))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge(limit, -1, "the upload exceeds the request size limit")
		}
		return err
	}
	in, err := a.createInput(c, f)
	if err != nil {
		return err
	}
	if err := a.resolveSubject(r.Context(), &in); err != nil {
		return err
	}
	if p := a.createAllowed(w, r, ratelimit.Citizen(c.ClientID+" "+in.Subject)); p != nil {
		return p
	}
	in.IdempotencyKey = key
	req, err := a.svc.Create(r.Context(), in)
	if err != nil {
		if key != "" && errors.Is(err, signing.ErrConflict) {
			return problem(http.StatusConflict, ProblemIdempotencyReuse, "Idempotency key reused",
				"this Idempotency-Key was used for a request with other content")
		}
		return err
	}
	// A retry with the same key gets the stored request: created before this call began.
	// (Compared at whole seconds, as stores may truncate times; so a retry within the same
	// second as the original reads as a creation.)
	status := http.StatusCreated
	if key != "" && req.CreatedAt.Before(start.Truncate(time.Second)) {
		status = http.StatusOK
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.Header().Set("Location", a.base+"/signing/v1/requests/"+req.ID)
	writeJSON(w, status, a.toJSON(req))
	return nil
}

func tooLarge(limit int64, index int, detail string) *Problem {
	p := problem(http.StatusRequestEntityTooLarge, ProblemTooLarge, "Too large", detail)
	p.Limit = limit
	if index >= 0 {
		p.DocumentIndex = &index
		p.Code = "too_large"
	}
	return p
}

// idempotencyKey reads the header: a token or a quoted string (the IETF draft's sf-string),
// 1 to 255 visible ASCII characters.
func idempotencyKey(vals []string) (string, *Problem) {
	if len(vals) == 0 {
		return "", nil
	}
	bad := badField("Idempotency-Key", "Idempotency-Key must be one value of 1 to 255 visible ASCII characters")
	if len(vals) > 1 {
		return "", bad
	}
	k := strings.TrimSpace(vals[0])
	if len(k) >= 2 && k[0] == '"' && k[len(k)-1] == '"' {
		k = k[1 : len(k)-1]
	}
	if k == "" || len(k) > maxKeyLen {
		return "", bad
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= 0x20 || k[i] >= 0x7f || k[i] == '"' || k[i] == '\\' {
			return "", bad
		}
	}
	return k, nil
}

// readForm streams the parts: documents are read up to the per-document limit and no
// further, text fields up to maxFieldBytes.
func (a *API) readForm(mr *multipart.Reader) (*createForm, error) {
	f := &createForm{fields: map[string]string{}}
	maxParts := 3*a.maxDocs + len(singleFields) + 4
	for n := 0; ; n++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			return f, nil
		}
		if err != nil {
			return nil, malformed(err)
		}
		if n >= maxParts {
			return nil, badField("", "too many form fields")
		}
		name := part.FormName()
		switch {
		case name == "document":
			if len(f.docs) >= a.maxDocs {
				return nil, badField("document", fmt.Sprintf("at most %d documents per request", a.maxDocs))
			}
			var buf bytes.Buffer
			got, err := buf.ReadFrom(io.LimitReader(part, a.maxDoc+1))
			if err != nil {
				return nil, malformed(err)
			}
			if got > a.maxDoc {
				return nil, tooLarge(a.maxDoc, len(f.docs), fmt.Sprintf("document %d exceeds the per-document limit", len(f.docs)))
			}
			f.docs = append(f.docs, signing.DocumentInput{PDF: buf.Bytes()})
			f.filenames = append(f.filenames, part.FileName())
		case name == "title" || name == "placement" || singleFields[name]:
			v, err := readField(part, name)
			if err != nil {
				return nil, err
			}
			switch name {
			case "title":
				f.titles = append(f.titles, v)
			case "placement":
				f.placements = append(f.placements, v)
			default:
				if _, dup := f.fields[name]; dup {
					return nil, badField(name, name+" must appear once")
				}
				f.fields[name] = v
			}
		default:
			return nil, badField(fieldName(name), "unknown form field")
		}
	}
}

func malformed(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return badField("", "the multipart body is malformed")
}

func readField(part *multipart.Part, name string) (string, error) {
	b, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
	if err != nil {
		return "", malformed(err)
	}
	if len(b) > maxFieldBytes {
		return "", badField(name, name+" is too long")
	}
	if !utf8.Valid(b) {
		return "", badField(name, name+" must be UTF-8")
	}
	return string(b), nil
}

// fieldName is a client-sent field name made safe to echo back.
func fieldName(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

// text normalizes a human-readable field: NFC (so decomposed Vietnamese diacritics become
// precomposed), trimmed, without control characters, at most maxRunes.
func text(field, v string, maxRunes int) (string, *Problem) {
	v = strings.TrimSpace(norm.NFC.String(v))
	if utf8.RuneCountInString(v) > maxRunes {
		return "", badField(field, fmt.Sprintf("%s must be at most %d characters", field, maxRunes))
	}
	for _, r := range v {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return "", badField(field, field+" must not contain control characters")
		}
	}
	return v, nil
}

func (a *API) createInput(c Caller, f *createForm) (signing.CreateInput, error) {
	in := signing.CreateInput{ClientID: c.ClientID}
	if len(f.docs) == 0 {
		return in, badField("document", "at least one document is required")
	}
	var p *Problem
	subject := strings.TrimSpace(f.fields["subject"])
	if c.citizen() {
		if subject != "" && subject != c.Subject {
			return in, problem(http.StatusForbidden, ProblemForbidden, "Forbidden", "a citizen token creates requests only for its own subject")
		}
		subject, in.CitizenID = c.Subject, c.CitizenID
	}
	if subject == "" {
		return in, badField("subject", "subject is required")
	}
	if len(subject) > maxKeyLen || strings.ContainsFunc(subject, unicode.IsControl) {
		return in, badField("subject", "subject is not valid")
	}
	in.Subject = subject
	if in.Reason, p = text("reason", f.fields["reason"], maxTextRunes); p != nil {
		return in, p
	}
	if in.Location, p = text("location", f.fields["location"], maxTextRunes); p != nil {
		return in, p
	}
	switch lv := signing.Level(strings.TrimSpace(f.fields["level"])); lv {
	case "":
		in.Level = signing.LevelBT
	case signing.LevelBB, signing.LevelBT, signing.LevelBLT, signing.LevelBLTA:
		in.Level = lv
	default:
		return in, badField("level", "level must be B-B, B-T, B-LT or B-LTA")
	}
	if cb := strings.TrimSpace(f.fields["callback_url"]); cb != "" {
		if !validCallback(cb) {
			return in, badField("callback_url", "callback_url must be an https URL (http only on loopback) without credentials or fragment")
		}
		in.CallbackURL = cb
	}
	if ru := strings.TrimSpace(f.fields["return_url"]); ru != "" {
		if !a.validReturn(c.ClientID, ru) {
			return in, badField("return_url", "return_url must be on one of the client's registered redirect origins")
		}
		in.ReturnURL = ru
	}
	if s := strings.TrimSpace(f.fields["ttl"]); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			n, err2 := strconv.Atoi(s)
			if err2 != nil {
				return in, badField("ttl", "ttl must be a duration such as 15m, or seconds")
			}
			d = time.Duration(n) * time.Second
		}
		if d < time.Minute || d > MaxTTL {
			return in, badField("ttl", "ttl must be from 1m to 24h")
		}
		in.TTL = d
	}
	if len(f.titles) != 0 && len(f.titles) != len(f.docs) {
		return in, badField("title", "give one title per document, in the same order, or none")
	}
	if len(f.placements) != 0 && len(f.placements) != len(f.docs) {
		return in, badField("placement", "give one placement per document, in the same order (empty for none), or none")
	}
	for i := range f.docs {
		d := f.docs[i]
		raw := strings.TrimSuffix(path.Base(strings.ReplaceAll(f.filenames[i], `\`, "/")), ".pdf")
		if raw == "." || raw == "/" {
			raw = ""
		}
		if len(f.titles) > 0 {
			raw = f.titles[i]
		}
		if d.Title, p = text("title", raw, maxTitleRunes); p != nil {
			p.DocumentIndex = &i
			return in, p
		}
		if d.Title == "" {
			p := badField("title", "each document needs a title")
			p.DocumentIndex = &i
			return in, p
		}
		if len(f.placements) > 0 {
			pl, p := parsePlacement(f.placements[i])
			if p != nil {
				p.DocumentIndex = &i
				return in, p
			}
			d.Placement = pl
		}
		in.Documents = append(in.Documents, d)
	}
	return in, nil
}

// parsePlacement reads one placement: JSON {"page":1,"rect":[llx,lly,urx,ury]} or
// {"auto":true}; empty or null means the default.
func parsePlacement(s string) (*signing.Placement, *Problem) {
	s = strings.TrimSpace(s)
	if s == "" || s == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	var pl signing.Placement
	if err := dec.Decode(&pl); err != nil || dec.More() {
		return nil, badField("placement", "placement must be JSON like {\"page\":1,\"rect\":[36,36,236,96]} or {\"auto\":true}")
	}
	zero := pl.Rect == [4]float64{}
	if !pl.Auto && zero && pl.Page == 0 {
		return nil, nil // {}: the default
	}
	switch {
	case pl.Page < 0:
		return nil, badField("placement", "page is 1-based")
	case pl.Auto && !zero:
		return nil, badField("placement", "give either auto or rect")
	case !pl.Auto && zero:
		return nil, badField("placement", "give a rect, or auto")
	case !zero && (pl.Rect[0] >= pl.Rect[2] || pl.Rect[1] >= pl.Rect[3] || pl.Rect[0] < 0 || pl.Rect[1] < 0):
		return nil, badField("placement", "rect is [llx, lly, urx, ury] with llx < urx and lly < ury")
	case !pl.Auto && pl.Page == 0:
		return nil, badField("placement", "a rect needs its page")
	}
	return &pl, nil
}

// validCallback accepts https URLs, and http only to a loopback host (for development).
func validCallback(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" || len(s) > 2000 {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		h := u.Hostname()
		if h == "localhost" {
			return true
		}
		ip := net.ParseIP(h)
		return ip != nil && ip.IsLoopback()
	}
	return false
}
