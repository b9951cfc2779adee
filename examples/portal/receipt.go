package portal

// "Hồ sơ của tôi": the citizen's submitted dossiers, each with its receipt and signed PDFs,
// and the drafts not yet submitted.

import (
	"net/http"
	"strconv"
)

type receiptView struct {
	Number, Bundle, Submitted string
	Typed                     []typedLine
	Docs                      []signedDoc
	Next                      string
}

// typedLine is one thing the citizen typed or chose, as the receipt lists it.
type typedLine struct{ Label, Value string }

func (p *Portal) receipt(w http.ResponseWriter, r *http.Request) {
	lang := p.lang(w, r)
	sess, ok := p.loggedIn(w, r)
	if !ok {
		return
	}
	d, ok := p.store.byNum(sess.Citizen.Sub, r.PathValue("number"))
	b := bundleByID(d.Bundle)
	if !ok || b == nil {
		p.fail(w, r, lang, http.StatusNotFound, "dossier_notfound", "")
		return
	}
	t := messages[lang]
	v := receiptView{Number: d.Number, Bundle: t[b.NameKey], Next: t[b.NextKey],
		Submitted: d.Submitted.In(vietnam).Format("15:04 02/01/2006") + " (GMT+7)"}
	for _, f := range b.Fields {
		val := d.Values[f.Name]
		switch {
		case val == "":
			continue
		case f.Kind == "date":
			val = formatDate(val)
		case f.Kind == "select" && !f.Literal:
			val = t["opt_"+val]
		}
		v.Typed = append(v.Typed, typedLine{Label: t[f.LabelKey], Value: val})
	}
	for i, doc := range d.Docs {
		sd := signedDoc{Index: i, Title: doc.Title, URL: "/ho-so-cua-toi/" + d.Number + "/tai-lieu/" + strconv.Itoa(i)}
		applyReport(t, doc.Report, &sd)
		v.Docs = append(v.Docs, sd)
	}
	p.render(w, r, lang, http.StatusOK, "receipt", t["receipt_title"], v)
}

func (p *Portal) receiptDocument(w http.ResponseWriter, r *http.Request) {
	lang := p.lang(w, r)
	sess, ok := p.loggedIn(w, r)
	if !ok {
		return
	}
	d, ok := p.store.byNum(sess.Citizen.Sub, r.PathValue("number"))
	i, err := strconv.Atoi(r.PathValue("index"))
	if !ok || err != nil || i < 0 || i >= len(d.Docs) {
		p.fail(w, r, lang, http.StatusNotFound, "dossier_notfound", "")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Disposition", `attachment; filename="`+d.Docs[i].File+`"`)
	h.Set("Content-Length", strconv.Itoa(len(d.Docs[i].PDF)))
	_, _ = w.Write(d.Docs[i].PDF)
}

type mineView struct {
	Dossiers []mineRow
	Drafts   []mineRow
}

type mineRow struct{ Number, Bundle, Submitted, URL string }

func (p *Portal) myDossiers(w http.ResponseWriter, r *http.Request) {
	lang := p.lang(w, r)
	sess, ok := p.loggedIn(w, r)
	if !ok {
		return
	}
	t := messages[lang]
	subs, drafts := p.store.list(sess.Citizen.Sub)
	var v mineView
	for _, d := range subs {
		if b := bundleByID(d.Bundle); b != nil {
			v.Dossiers = append(v.Dossiers, mineRow{Number: d.Number, Bundle: t[b.NameKey],
				Submitted: d.Submitted.In(vietnam).Format("02/01/2006"), URL: "/ho-so-cua-toi/" + d.Number})
		}
	}
	for _, id := range drafts {
		if b := bundleByID(id); b != nil {
			v.Drafts = append(v.Drafts, mineRow{Bundle: t[b.NameKey], URL: "/ho-so/" + b.ID})
		}
	}
	p.render(w, r, lang, http.StatusOK, "mine", t["mine_title"], v)
}
