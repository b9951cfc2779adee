package sim

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// oauthError writes an RFC 6749 section 5.2 error.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Basic realm="sim"`)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{code, desc})
}

// authenticateClient implements client_secret_basic and client_secret_post (one at a time).
func (p *Provider) authenticateClient(r *http.Request) (*Client, string) {
	id, secret, basic := r.BasicAuth()
	if basic {
		if r.PostForm.Has("client_secret") {
			return nil, "invalid_request"
		}
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return nil, "invalid_client"
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	c, ok := p.clients[id]
	if !ok || secret == "" || !equalConst(secret, c.Secret) {
		return nil, "invalid_client"
	}
	return c, ""
}

func (p *Provider) handleToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	client, errCode := p.authenticateClient(r)
	if client == nil {
		if errCode == "invalid_client" {
			oauthError(w, http.StatusUnauthorized, errCode, "client authentication failed")
		} else {
			oauthError(w, http.StatusBadRequest, errCode, "use one client authentication method")
		}
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "authorization_code" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "only authorization_code")
		return
	}
	now := p.now()
	code, ok := p.st.takeCode(f.Get("code"), now)
	switch {
	case !ok:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "code unknown, expired or already used")
		return
	case code.clientID != client.ID:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "code was issued to another client")
		return
	case f.Get("redirect_uri") != code.redirectURI:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request")
		return
	case !pkceOK(f.Get("code_verifier"), code.challenge):
		oauthError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
		return
	}
	c := &p.citizens[code.citizen]
	sub := c.subject()
	exp := now.Add(tokenTTL)

	at := map[string]any{
		"iss": p.issuer, "sub": sub, "aud": client.ID, "client_id": client.ID,
		"scope": code.scope, "iat": now.Unix(), "exp": exp.Unix(), "jti": randomToken(12),
	}
	accessToken, err := p.sign(p.atSigner, at)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "")
		return
	}
	id := p.identityClaims(c, code.scope)
	id["iss"], id["sub"], id["aud"], id["azp"] = p.issuer, sub, client.ID, client.ID
	id["iat"], id["exp"], id["auth_time"] = now.Unix(), exp.Unix(), code.authTime.Unix()
	id["amr"], id["sid"] = []string{"pwd", "otp"}, code.sid
	if p.levelIn == LevelInACR {
		id["acr"] = p.levelValue(c.Level)
	}
	id["at_hash"] = halfHash(accessToken)
	if code.nonce != "" {
		id["nonce"] = code.nonce
	}
	idToken, err := p.sign(p.idSigner, id)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	_ = json.NewEncoder(w).Encode(struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		IDToken     string `json:"id_token"`
		Scope       string `json:"scope"`
	}{accessToken, "Bearer", int(tokenTTL / time.Second), idToken, code.scope})
}

func levelString(l int) string {
	if l == 2 {
		return "2"
	}
	return "1"
}

// levelValue is how the sim writes a level (Config.ACRValues).
func (p *Provider) levelValue(l int) string {
	if l == 2 {
		return p.acrValues[1]
	}
	return p.acrValues[0]
}

// levelConfig checks and keeps where and how the level is stated.
func (p *Provider) levelConfig(cfg Config) error {
	p.levelIn, p.levelClaim, p.acrValues, p.noVerified = cfg.LevelIn, cfg.LevelClaim, cfg.ACRValues, cfg.OmitVerified
	p.consent = cfg.AskConsent
	switch p.levelIn {
	case "":
		p.levelIn = LevelInACR
	case LevelInACR, LevelInClaim, LevelInNone:
	default:
		return errors.New("sim: LevelIn must be acr, claim or none")
	}
	if p.levelClaim == "" {
		p.levelClaim = "eid_level"
	}
	if p.acrValues == [2]string{} {
		p.acrValues = [2]string{"1", "2"}
	}
	if p.acrValues[0] == "" || p.acrValues[1] == "" || p.acrValues[0] == p.acrValues[1] ||
		strings.ContainsAny(p.acrValues[0]+p.acrValues[1], " \t\r\n") {
		return errors.New("sim: ACRValues must be two different values without spaces")
	}
	return nil
}

// pkceOK checks an RFC 7636 S256 verifier against the stored challenge.
func pkceOK(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	for i := 0; i < len(verifier); i++ {
		c := verifier[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	sum := sha256.Sum256([]byte(verifier))
	return equalConst(base64.RawURLEncoding.EncodeToString(sum[:]), challenge)
}

func halfHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

func (p *Provider) sign(s jose.Signer, claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// identityClaims returns the citizen's claims released for scope: "profile" releases the
// whole e-ID card (ID number, names, birth date, sex, nationality, place of origin,
// permanent residence, phone); "address" and "phone" release those alone.
func (p *Provider) identityClaims(c *Citizen, scope string) map[string]any {
	m := make(map[string]any, 20)
	profile := hasWord(scope, "profile")
	if profile {
		m[ClaimCCCD] = c.CCCD
		m[ClaimFullName] = c.FullName()
		m[ClaimFamilyName] = c.FamilyName
		if c.MiddleName != "" {
			m[ClaimMiddleName] = c.MiddleName
		}
		m[ClaimGivenName] = c.GivenName
		m[ClaimBirthdate] = c.Birthdate
		m[ClaimSex] = c.Sex
		if c.Nationality != "" {
			m[ClaimNationality] = c.Nationality
		}
		if c.PlaceOfOrigin != "" {
			m[ClaimPlaceOfOrigin] = c.PlaceOfOrigin
		}
	}
	if (profile || hasWord(scope, "address")) && c.Address.Formatted != "" {
		m[ClaimAddress] = c.Address
	}
	if (profile || hasWord(scope, "phone")) && c.Phone != "" {
		m[ClaimPhone] = c.Phone
		if !p.noVerified {
			m[ClaimPhoneVerified] = c.PhoneVerified
		}
	}
	if profile && !c.UpdatedAt.IsZero() {
		m["updated_at"] = c.UpdatedAt.Unix()
	}
	if p.levelIn == LevelInClaim {
		m[p.levelClaim] = p.levelValue(c.Level)
	}
	return m
}

// verifyOwnJWT checks a JWT the sim signed (typ must match) and returns its claims. When
// checkExpiry is false an expired token is accepted (id_token_hint at logout).
func (p *Provider) verifyOwnJWT(raw, typ string, checkExpiry bool) (map[string]any, bool) {
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, false
	}
	if t, _ := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType].(string); t != typ {
		return nil, false
	}
	payload, err := jws.Verify(&p.key.PublicKey)
	if err != nil {
		return nil, false
	}
	var claims map[string]any
	if json.Unmarshal(payload, &claims) != nil || claims["iss"] != p.issuer {
		return nil, false
	}
	if checkExpiry {
		exp, _ := claims["exp"].(float64)
		if !p.now().Before(time.Unix(int64(exp), 0)) {
			return nil, false
		}
	}
	return claims, true
}

func (p *Provider) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(auth, " ")
	claims, ok := map[string]any(nil), false
	if strings.EqualFold(scheme, "Bearer") && token != "" {
		claims, ok = p.verifyOwnJWT(token, accessTokenTyp, true)
	}
	var c *Citizen
	if ok {
		sub, _ := claims["sub"].(string)
		i, found := p.bySub[sub]
		ok = found
		if found {
			c = &p.citizens[i]
		}
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "invalid_token", http.StatusUnauthorized)
		return
	}
	scope, _ := claims["scope"].(string)
	out := p.identityClaims(c, scope)
	out["sub"] = c.subject()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(out)
}

// handleEndSession implements OpenID Connect RP-Initiated Logout 1.0: it ends the sim's
// session (from the cookie and from the id_token_hint's sid), then redirects to a
// registered post_logout_redirect_uri or shows a page.
func (p *Provider) handleEndSession(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		p.renderError(w, http.StatusBadRequest, "vi", "bad_request")
		return
	}
	lang := pickLang(r.Form.Get("ui_locales"))
	clientID := r.Form.Get("client_id")
	var hintSID string
	if hint := r.Form.Get("id_token_hint"); hint != "" {
		claims, ok := p.verifyOwnJWT(hint, "JWT", false)
		if !ok {
			p.renderError(w, http.StatusBadRequest, lang, "bad_request")
			return
		}
		aud, _ := claims["aud"].(string)
		if clientID != "" && clientID != aud {
			p.renderError(w, http.StatusBadRequest, lang, "bad_request")
			return
		}
		clientID = aud
		hintSID, _ = claims["sid"].(string)
	}
	postLogout := r.Form.Get("post_logout_redirect_uri")
	if postLogout != "" {
		c, ok := p.clients[clientID]
		if !ok || !contains(c.PostLogoutRedirectURIs, postLogout) {
			p.renderError(w, http.StatusBadRequest, lang, "bad_redirect")
			return
		}
	}
	if ck, err := r.Cookie(sessionCookie); err == nil {
		p.st.endSession(sidOf(ck.Value))
	}
	if hintSID != "" {
		p.st.endSession(hintSID)
	}
	p.setCookie(w, sessionCookie, "", -1)
	if postLogout != "" {
		u, _ := url.Parse(postLogout)
		if st := r.Form.Get("state"); st != "" {
			q := u.Query()
			q.Set("state", st)
			u.RawQuery = q.Encode()
		}
		http.Redirect(w, r, u.String(), http.StatusSeeOther)
		return
	}
	p.renderPage(w, http.StatusOK, "loggedout", lang, nil)
}
