package cscserver

import (
	"crypto/rand"
	"html/template"
	"net/http"
	"time"
)

var otpPage = template.Must(template.New("otp").Parse(`<!doctype html>
<html lang="{{.Lang}}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>{{.T.title}}</title>
<style nonce="{{.Nonce}}">body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1c1b1f;background:#f7f5fa}
header{background:#b3261e;color:#fff;padding:14px 16px;display:flex;justify-content:space-between}header a{color:#fff}
main{max-width:480px;margin:0 auto;padding:16px}.code{font:36px/1.2 ui-monospace,monospace;letter-spacing:.2em;background:#fff;border:1px solid #e4e1ea;border-radius:12px;padding:16px;text-align:center}
.muted{color:#5f5b66;font-size:14px}</style></head>
<body><header><b>Motlan</b><a href="?lang={{.Other}}">{{.T.switch}}</a></header>
<main><h1>{{.T.heading}}</h1><p>{{.T.note}}</p><p class="code">{{.Code}}</p><p class="muted">{{.T.valid}}</p></main></body></html>
`))

var otpText = map[string]map[string]string{
	"vi": {"title": "Motlan – Mã xác nhận ký số", "switch": "English", "heading": "Mã xác nhận ký số",
		"note":  "Nhập mã này vào trang ký của dịch vụ đang đề nghị bạn ký. Mã chỉ dùng được một lần, cho một lần xác nhận ký.",
		"valid": "Mã có hiệu lực khoảng 5 phút. Không đưa mã cho người khác."},
	"en": {"title": "Motlan – Signing code", "switch": "Tiếng Việt", "heading": "Your signing code",
		"note":  "Enter this code on the signing page of the service that asks for your signature. It works once, for one signing approval.",
		"valid": "The code is valid for about 5 minutes. Never give it to anyone."},
}

// handleOTPPage shows the citizen the code for their credential after a fresh level-2
// eID login; without one it sends them to log in again.
func (s *Server) handleOTPPage(w http.ResponseWriter, r *http.Request) {
	lang := r.URL.Query().Get("lang")
	if lang != "en" {
		lang = "vi"
	}
	cid, acr, at, ok := s.cfg.Auth.BrowserCitizen(r)
	age := s.cfg.Now().Sub(at)
	if !ok || cid == "" || acr < "2" || age > s.cfg.FreshLogin || age < -time.Minute {
		http.Redirect(w, r, s.cfg.Auth.StepUpURL("/csc/otp?lang="+lang, lang), http.StatusSeeOther)
		return
	}
	code, err := s.issueOTP(r, cid)
	if err != nil {
		s.log.WarnContext(r.Context(), "otp page", "err", err)
		http.Error(w, "no code can be issued now; try again in a few minutes", http.StatusTooManyRequests)
		return
	}
	other := "en"
	if lang == "en" {
		other = "vi"
	}
	nonce := rand.Text()
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+nonce+"'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Type", "text/html; charset=utf-8")
	if err := otpPage.Execute(w, map[string]any{"Lang": lang, "Other": other, "T": otpText[lang], "Nonce": nonce, "Code": code}); err != nil {
		s.log.ErrorContext(r.Context(), "otp page", "err", err)
	}
}
