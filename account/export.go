package account

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/keys/ca"
	"github.com/motlan/motlan/signing"
)

// Export is everything Motlan holds about a citizen, as GET /me/data.json sends it.
type Export struct {
	GeneratedAt     time.Time          `json:"generated_at"`
	Citizen         ExportCitizen      `json:"citizen"`
	Releases        []ExportRelease    `json:"releases"`
	Consents        []ExportConsent    `json:"consents"`
	Sessions        []ExportSession    `json:"sessions"`
	SigningRequests []ExportSigning    `json:"signing_requests"`
	Certificate     *ExportCertificate `json:"certificate"`
	Audit           []ExportAudit      `json:"audit"`
}

// ExportCitizen is the citizen record: each attribute with how the eID verified it.
type ExportCitizen struct {
	ID         string                     `json:"id"`
	CCCD       string                     `json:"cccd"`
	Issuer     string                     `json:"eid_issuer"`
	Attributes map[string]store.Attribute `json:"attributes"`
	CreatedAt  time.Time                  `json:"created_at"`
	UpdatedAt  time.Time                  `json:"updated_at"`
}

type ExportRelease struct {
	ClientID   string    `json:"client_id"`
	ClientName string    `json:"client_name"`
	Claims     []string  `json:"claims"`
	Via        string    `json:"via"`
	At         time.Time `json:"at"`
}

type ExportConsent struct {
	ClientID   string    `json:"client_id"`
	ClientName string    `json:"client_name"`
	Scopes     []string  `json:"scopes"`
	GrantedAt  time.Time `json:"granted_at"`
}

type ExportSession struct {
	CreatedAt time.Time `json:"created_at"`
	AuthTime  time.Time `json:"auth_time"`
	ACR       string    `json:"acr"`
	AMR       []string  `json:"amr"`
	ExpiresAt time.Time `json:"expires_at"`
	Current   bool      `json:"current"`
}

type ExportSigning struct {
	ID         string           `json:"id"`
	ClientID   string           `json:"client_id"`
	ClientName string           `json:"client_name"`
	Status     string           `json:"status"`
	Reason     string           `json:"reason,omitempty"`
	Location   string           `json:"location,omitempty"`
	CreatedAt  time.Time        `json:"created_at"`
	UpdatedAt  time.Time        `json:"updated_at"`
	KeptUntil  time.Time        `json:"signed_documents_kept_until,omitzero"`
	Documents  []ExportDocument `json:"documents"`
}

type ExportDocument struct {
	Title    string    `json:"title"`
	SHA256   string    `json:"sha256"`
	Pages    int       `json:"pages"`
	SignedAt time.Time `json:"signed_at,omitzero"`
}

type ExportCertificate struct {
	Serial    string    `json:"serial"`
	NotAfter  time.Time `json:"not_after"`
	CreatedAt time.Time `json:"created_at"`
	Revoked   bool      `json:"revoked"`
}

type ExportAudit struct {
	Seq     int64           `json:"seq"`
	At      time.Time       `json:"at"`
	Kind    string          `json:"kind"`
	Actor   string          `json:"actor"`
	Details json.RawMessage `json:"details"`
}

// GET /me/data.json: the download of everything Motlan holds about the citizen.
func (p *Page) handleExport(w http.ResponseWriter, r *http.Request) {
	lang := pickLang(r)
	cid, ok := p.citizen(r, false)
	if !ok {
		p.stepUp(w, r, lang)
		return
	}
	x, err := p.export(r, cid)
	if err != nil {
		p.fail(w, r, lang, err)
		return
	}
	b, err := json.MarshalIndent(x, "", "  ")
	if err != nil {
		p.fail(w, r, lang, err)
		return
	}
	p.audit(r.Context(), KindExport, cid, nil)
	setPageHeaders(w.Header(), "default-src 'none'; frame-ancestors 'none'; sandbox")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="motlan-du-lieu-cua-toi.json"`)
	_, _ = w.Write(b)
}

func (p *Page) export(r *http.Request, cid string) (Export, error) {
	ctx := r.Context()
	st := p.cfg.Store
	cit, err := st.GetCitizen(ctx, cid)
	if err != nil {
		return Export{}, err
	}
	x := Export{GeneratedAt: p.cfg.Now().UTC(), Citizen: ExportCitizen{ID: cit.ID, CCCD: cit.CCCD, Issuer: cit.Issuer,
		Attributes: cit.Attributes, CreatedAt: cit.CreatedAt, UpdatedAt: cit.UpdatedAt},
		Releases: []ExportRelease{}, Consents: []ExportConsent{}, Sessions: []ExportSession{}, SigningRequests: []ExportSigning{}, Audit: []ExportAudit{}}
	if x.Citizen.Attributes == nil {
		x.Citizen.Attributes = map[string]store.Attribute{}
	}
	rels, err := st.ListReleases(ctx, cid)
	if err != nil {
		return Export{}, err
	}
	for _, rl := range rels {
		x.Releases = append(x.Releases, ExportRelease{ClientID: rl.ClientID, ClientName: p.cfg.Provider.ClientName(ctx, rl.ClientID), Claims: rl.Claims, Via: rl.Via, At: rl.At})
	}
	cs, err := st.ListConsents(ctx, cid)
	if err != nil {
		return Export{}, err
	}
	for _, c := range cs {
		x.Consents = append(x.Consents, ExportConsent{ClientID: c.ClientID, ClientName: p.cfg.Provider.ClientName(ctx, c.ClientID), Scopes: c.Scopes, GrantedAt: c.GrantedAt})
	}
	ss, err := st.ListCitizenSessions(ctx, cid)
	if err != nil {
		return Export{}, err
	}
	current := p.cfg.Provider.BrowserSessionID(r)
	for _, s := range ss {
		x.Sessions = append(x.Sessions, ExportSession{CreatedAt: s.CreatedAt, AuthTime: s.AuthTime, ACR: s.ACR, AMR: s.AMR, ExpiresAt: s.ExpiresAt, Current: s.ID == current})
	}
	reqs, err := p.signingRequests(ctx, cid, knownClients(rels, cs))
	if err != nil {
		return Export{}, err
	}
	for _, q := range reqs {
		x.SigningRequests = append(x.SigningRequests, p.exportSigning(ctx, q))
	}
	if x.Certificate, err = p.exportCert(r, cid); err != nil {
		return Export{}, err
	}
	recs, err := st.ListActorAudit(ctx, "citizen:"+cid, 1000)
	if err != nil {
		return Export{}, err
	}
	for _, a := range recs {
		x.Audit = append(x.Audit, ExportAudit{Seq: a.Seq, At: a.At, Kind: a.Kind, Actor: a.Actor, Details: a.Details})
	}
	return x, nil
}

func (p *Page) exportSigning(ctx context.Context, q signing.Request) ExportSigning {
	e := ExportSigning{ID: q.ID, ClientID: q.ClientID, ClientName: p.cfg.Provider.ClientName(ctx, q.ClientID), Status: string(q.Status), Reason: q.Reason, Location: q.Location,
		CreatedAt: q.CreatedAt, UpdatedAt: q.UpdatedAt, Documents: []ExportDocument{}}
	if _, until := p.kept(q); !until.IsZero() {
		e.KeptUntil = until
	}
	for _, d := range q.Documents {
		e.Documents = append(e.Documents, ExportDocument{Title: d.Title, SHA256: d.SHA256, Pages: d.Pages, SignedAt: d.SignedAt})
	}
	return e
}

func (p *Page) exportCert(r *http.Request, cid string) (*ExportCertificate, error) {
	c, err := p.cfg.Store.CitizenCert(r.Context(), cid)
	if errors.Is(err, signing.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	e := &ExportCertificate{Serial: c.Serial, NotAfter: c.NotAfter, CreatedAt: c.CreatedAt}
	if p.cfg.Revoker != nil {
		if serial, err := ca.ParseSerial(c.Serial); err == nil {
			rev, err := p.cfg.Revoker.Revoked(r.Context(), serial)
			if err != nil {
				return nil, err
			}
			e.Revoked = rev != nil
		}
	}
	return e, nil
}

// ownedSigned is the citizen's signed request id with document index i, while kept.
func (p *Page) ownedSigned(r *http.Request, cid string) (signing.Request, int, error) {
	i, err := strconv.Atoi(r.PathValue("index"))
	if err != nil || i < 0 {
		return signing.Request{}, 0, errNotYours
	}
	q, err := p.cfg.Signing.ForApproval(r.Context(), r.PathValue("id"), cid, p.subjectFor(cid))
	if err != nil {
		return signing.Request{}, 0, err
	}
	if ok, _ := p.kept(q); !ok || i >= len(q.Documents) {
		return signing.Request{}, 0, errNotYours
	}
	return q, i, nil
}

// GET /me/documents/{id}/{index}: a signed PDF of the citizen's, while Motlan keeps it.
func (p *Page) handleDocument(w http.ResponseWriter, r *http.Request) {
	lang := pickLang(r)
	cid, ok := p.citizen(r, false)
	if !ok {
		p.stepUp(w, r, lang)
		return
	}
	q, i, err := p.ownedSigned(r, cid)
	if err != nil {
		p.fail(w, r, lang, err)
		return
	}
	pdf, err := p.cfg.Store.SignedPDF(r.Context(), q.ID, i)
	if err != nil {
		p.fail(w, r, lang, err)
		return
	}
	setPageHeaders(w.Header(), "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'")
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="signed-%d.pdf"`, i+1))
	_, _ = w.Write(pdf)
}

// GET /me/documents/{id}/{index}/report: Motlan's verification report of that PDF.
func (p *Page) handleReport(w http.ResponseWriter, r *http.Request) {
	lang := pickLang(r)
	cid, ok := p.citizen(r, false)
	if !ok {
		p.stepUp(w, r, lang)
		return
	}
	q, i, err := p.ownedSigned(r, cid)
	if err != nil {
		p.fail(w, r, lang, err)
		return
	}
	v, err := p.verification(r.Context(), q.ID, i)
	if err != nil {
		p.fail(w, r, lang, err)
		return
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		p.fail(w, r, lang, err)
		return
	}
	setPageHeaders(w.Header(), "default-src 'none'; frame-ancestors 'none'; sandbox")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(b)
}
