package account

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/signing"
)

// vnTime is Vietnam's time zone (UTC+7, no daylight saving), without needing tzdata.
var vnTime = time.FixedZone("ICT", 7*3600)

func formatTime(t time.Time, lang string) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(vnTime)
	if lang == "en" {
		return t.Format("15:04, 2 Jan 2006") + " (UTC+7)"
	}
	return t.Format("15:04, 02/01/2006")
}

func formatDate(t time.Time, lang string) string {
	if t.IsZero() {
		return ""
	}
	if lang == "en" {
		return t.In(vnTime).Format("2 Jan 2006")
	}
	return t.In(vnTime).Format("02/01/2006")
}

// maskCCCD shows the first three digits (the province of birth) and the last three.
func maskCCCD(s string) string {
	if len(s) < 7 {
		return strings.Repeat("•", len(s))
	}
	return s[:3] + strings.Repeat("•", len(s)-6) + s[len(s)-3:]
}

// ---- what the page shows

type portalView struct {
	ClientID, Name string
	Claims         []claimView
	Last           string // the last release
	Releases       int
	Consent        *consentView
}

type claimView struct{ Name, Label, Value string }

type consentView struct {
	ClientID, Name, Scopes, Granted string
	Backchannel                     bool
}

type sessionView struct {
	Handle, Started, AuthTime, Level, Expires string
	Current                                   bool
}

type docView struct {
	Index                        int
	Title, SignedAt, Download    string
	ReportURL                    string
	Indication, Signer, SignTime string
	Level                        string
}

type requestView struct {
	ID, Client, Created, Status, StatusKey, KeptUntil string
	Pending                                           bool
	ApproveURL                                        string
	Docs                                              []docView
	Gone                                              bool // signed documents no longer kept
}

type certView struct {
	Name, CCCD, Serial, NotBefore, NotAfter string
	Revoked                                 bool
	RevokedAt                               string
}

type pageData struct {
	CSRF       string
	ShowValues bool
	ValuesURL  string
	Portals    []portalView
	Consents   []consentView
	Sessions   []sessionView
	Requests   []requestView
	Cert       *certView
	Fresh      bool
	StepUpURL  string
	ExportURL  string
	Notice     string
}

// claimLabels are the page's names for the claims Motlan releases.
var claimLabels = map[string]map[string]string{
	"vi": {"name": "Họ và tên", "given_name": "Tên", "family_name": "Họ", "birthdate": "Ngày sinh", "gender": "Giới tính",
		"address": "Địa chỉ", "phone_number": "Số điện thoại", "phone_number_verified": "Số điện thoại đã xác thực",
		"cccd": "Số định danh cá nhân", "sub": "Mã định danh với dịch vụ", "verified_claims": "Thông tin đã xác thực",
		"middle_name": "Tên đệm", "nationality": "Quốc tịch", "place_of_origin": "Quê quán", "updated_at": "Thời điểm cập nhật",
		"verified": "đã xác thực"},
	"en": {"name": "Full name", "given_name": "Given name", "family_name": "Family name", "birthdate": "Date of birth", "gender": "Sex",
		"address": "Address", "phone_number": "Phone number", "phone_number_verified": "Phone number verified",
		"cccd": "Personal ID number", "sub": "Identifier for the service", "verified_claims": "Verified data",
		"middle_name": "Middle name", "nationality": "Nationality", "place_of_origin": "Place of origin", "updated_at": "Last updated",
		"verified": "verified"},
}

// claimLabel names a claim as the page shows it; verified_claims.x is x, verified.
func claimLabel(lang, name string) string {
	if inner, ok := strings.CutPrefix(name, "verified_claims."); ok {
		return claimLabel(lang, inner) + " (" + claimLabels[lang]["verified"] + ")"
	}
	if l := claimLabels[lang][name]; l != "" {
		return l
	}
	return name
}

// attrValue is the citizen record's current value of a claim, as text.
func attrValue(c store.Citizen, name string) string {
	name = strings.TrimPrefix(name, "verified_claims.")
	if name == "cccd" {
		return c.CCCD
	}
	a, ok := c.Attributes[name]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(a.Value, &s) == nil {
		return s
	}
	var addr struct {
		Formatted string `json:"formatted"`
	}
	if json.Unmarshal(a.Value, &addr) == nil && addr.Formatted != "" {
		return addr.Formatted
	}
	return string(a.Value)
}

// portals groups the releases by client, newest last release first, with the consent
// each was made under.
func (p *Page) portals(ctx context.Context, lang string, cit store.Citizen, rels []store.Release, consents []consentView, values bool) []portalView {
	byClient := map[string]*portalView{}
	var order []string
	lastAt := map[string]time.Time{}
	for _, r := range rels {
		v := byClient[r.ClientID]
		if v == nil {
			v = &portalView{ClientID: r.ClientID, Name: p.cfg.Provider.ClientName(ctx, r.ClientID)}
			byClient[r.ClientID] = v
			order = append(order, r.ClientID)
		}
		v.Releases++
		lastAt[r.ClientID] = r.At
		v.Last = formatTime(r.At, lang)
		for _, c := range r.Claims {
			if !slices.ContainsFunc(v.Claims, func(x claimView) bool { return x.Name == c }) {
				cv := claimView{Name: c, Label: claimLabel(lang, c)}
				if values {
					cv.Value = attrValue(cit, c)
				}
				v.Claims = append(v.Claims, cv)
			}
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return lastAt[order[i]].After(lastAt[order[j]]) })
	out := make([]portalView, 0, len(order))
	for _, id := range order {
		v := byClient[id]
		for i := range consents {
			if consents[i].ClientID == id {
				v.Consent = &consents[i]
			}
		}
		out = append(out, *v)
	}
	return out
}

func (p *Page) consents(ctx context.Context, lang string, cs []store.Consent) []consentView {
	out := make([]consentView, 0, len(cs))
	for _, c := range cs {
		out = append(out, consentView{ClientID: c.ClientID, Name: p.cfg.Provider.ClientName(ctx, c.ClientID),
			Scopes: strings.Join(c.Scopes, " "), Granted: formatTime(c.GrantedAt, lang),
			Backchannel: p.cfg.Provider.HasBackchannelLogout(ctx, c.ClientID)})
	}
	return out
}

func (p *Page) sessions(lang string, ss []store.Session, current string) []sessionView {
	out := make([]sessionView, 0, len(ss))
	for _, s := range ss {
		out = append(out, sessionView{Handle: p.sessionHandle(s.ID), Started: formatTime(s.CreatedAt, lang),
			AuthTime: formatTime(s.AuthTime, lang), Level: s.ACR, Expires: formatTime(s.ExpiresAt, lang), Current: s.ID == current})
	}
	return out
}

// signingRequests is every request for the citizen: those that name them and those a
// client made for the sub it knows them by (before the citizen was resolved), newest first.
func (p *Page) signingRequests(ctx context.Context, cid string, clients []string) ([]signing.Request, error) {
	own, err := p.cfg.Store.ListCitizenSigningRequests(ctx, cid, 200)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, r := range own {
		seen[r.ID] = true
	}
	for _, c := range clients {
		sub := p.cfg.Provider.SubjectFor(c, cid)
		if sub == "" {
			continue
		}
		more, err := p.cfg.Store.ListSigningRequests(ctx, c, sub, 200)
		if err != nil {
			return nil, err
		}
		for _, r := range more {
			if !seen[r.ID] && (r.CitizenID == "" || r.CitizenID == cid) {
				seen[r.ID] = true
				own = append(own, r)
			}
		}
	}
	sort.SliceStable(own, func(i, j int) bool { return own[i].CreatedAt.After(own[j].CreatedAt) })
	return own, nil
}

// kept reports whether the request's signed documents are still kept, and until when.
func (p *Page) kept(r signing.Request) (bool, time.Time) {
	if r.Status != signing.StatusSigned {
		return false, time.Time{}
	}
	until := p.cfg.Retention.KeptUntil(r)
	return p.cfg.Now().Before(until), until
}

func (p *Page) requestView(ctx context.Context, lang string, r signing.Request) requestView {
	t := messages[lang]
	v := requestView{ID: r.ID, Client: p.cfg.Provider.ClientName(ctx, r.ClientID), Created: formatTime(r.CreatedAt, lang),
		StatusKey: string(r.Status), Status: t["status."+string(r.Status)], Pending: r.Status == signing.StatusPending}
	if v.Pending {
		v.ApproveURL = "/sign/" + r.ID + "?lang=" + lang
	}
	ok, until := p.kept(r)
	if r.Status == signing.StatusSigned {
		v.KeptUntil = formatDate(until, lang)
		v.Gone = !ok
	}
	for i, d := range r.Documents {
		dv := docView{Index: i, Title: d.Title, SignedAt: formatTime(d.SignedAt, lang)}
		if ok && !d.SignedAt.IsZero() {
			base := "/me/documents/" + r.ID + "/" + strconv.Itoa(i)
			dv.Download, dv.ReportURL = base, base+"/report"
			if ver, err := p.verification(ctx, r.ID, i); err == nil {
				dv.Indication, dv.Signer, dv.Level = ver.Indication, ver.Signer, ver.Level
				dv.SignTime = formatTime(ver.SigningTime, lang)
			} else {
				p.cfg.Logger.WarnContext(ctx, "me: verify signed document", "err", err)
			}
		}
		v.Docs = append(v.Docs, dv)
	}
	return v
}

func (p *Page) verification(ctx context.Context, id string, i int) (Verification, error) {
	if p.cfg.Verify == nil {
		return Verification{}, errors.New("no verifier configured")
	}
	pdf, err := p.cfg.Store.SignedPDF(ctx, id, i)
	if err != nil {
		return Verification{}, err
	}
	return p.cfg.Verify(ctx, pdf)
}

func (p *Page) certView(ctx context.Context, lang string, cit store.Citizen) (*certView, error) {
	c, err := p.cfg.Store.CitizenCert(ctx, cit.ID)
	if errors.Is(err, signing.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	x, err := x509.ParseCertificate(c.Certificate)
	if err != nil {
		return nil, fmt.Errorf("stored certificate: %w", err)
	}
	v := &certView{Name: x.Subject.CommonName, CCCD: maskCCCD(cit.CCCD), Serial: strings.ToUpper(c.Serial),
		NotBefore: formatDate(x.NotBefore, lang), NotAfter: formatDate(x.NotAfter, lang)}
	if p.cfg.Revoker != nil {
		rev, err := p.cfg.Revoker.Revoked(ctx, x.SerialNumber)
		if err != nil {
			return nil, err
		}
		if rev != nil {
			v.Revoked, v.RevokedAt = true, formatTime(rev.RevokedAt, lang)
		}
	}
	return v, nil
}
