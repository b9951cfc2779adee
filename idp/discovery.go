package idp

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"

	"github.com/motlan/motlan/idp/claims"
)

// confidentialAuthMethods are how clients authenticate at revocation and introspection,
// which public clients cannot use.
var confidentialAuthMethods = []string{"client_secret_basic", "client_secret_post", "private_key_jwt"}

// discoveryDocument is OpenID Connect Discovery 1.0 section 3, built once.
func (p *Provider) discoveryDocument() ([]byte, error) {
	scopes := []string{"openid", "offline_access", "sign", "signing"}
	for s := range claims.ByScope {
		scopes = append(scopes, s)
	}
	sort.Strings(scopes[4:])
	doc := map[string]any{
		"issuer":                                        p.cfg.Issuer,
		"authorization_endpoint":                        p.URL(PathAuthorize),
		"token_endpoint":                                p.URL(PathToken),
		"userinfo_endpoint":                             p.URL(PathUserInfo),
		"jwks_uri":                                      p.URL(PathJWKS),
		"end_session_endpoint":                          p.URL(PathLogout),
		"backchannel_logout_supported":                  true,
		"backchannel_logout_session_supported":          true,
		"revocation_endpoint":                           p.URL(PathRevoke),
		"introspection_endpoint":                        p.URL(PathIntrospect),
		"pushed_authorization_request_endpoint":         p.URL(PathPAR),
		"require_pushed_authorization_requests":         false,
		"revocation_endpoint_auth_methods_supported":    confidentialAuthMethods,
		"introspection_endpoint_auth_methods_supported": confidentialAuthMethods,
		"scopes_supported":                              scopes,
		"response_types_supported":                      []string{"code"},
		"response_modes_supported":                      []string{"query"},
		"grant_types_supported":                         []string{"authorization_code", "refresh_token", "client_credentials"},
		"subject_types_supported":                       []string{"pairwise", "public"},
		"id_token_signing_alg_values_supported":         []string{"ES256", "RS256"},
		"userinfo_signing_alg_values_supported":         []string{"none"},
		"token_endpoint_auth_methods_supported":         []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		"token_endpoint_auth_signing_alg_values_supported": slices.Collect(func(yield func(string) bool) {
			for _, a := range assertionAlgs {
				if !yield(string(a)) {
					return
				}
			}
		}),
		"code_challenge_methods_supported":               []string{"S256"},
		"claims_supported":                               claims.Supported(),
		"claims_parameter_supported":                     true,
		"request_parameter_supported":                    false,
		"request_uri_parameter_supported":                false,
		"acr_values_supported":                           []string{"1", "2"},
		"ui_locales_supported":                           []string{"vi", "en"},
		"claims_locales_supported":                       []string{"vi"},
		"authorization_response_iss_parameter_supported": true,
		"prompt_values_supported":                        []string{"none", "login", "consent", "select_account"},
		"dpop_signing_alg_values_supported":              DPoPAlgs(),
	}
	return json.MarshalIndent(doc, "", "  ")
}

func (p *Provider) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(p.discovery)
}

func (p *Provider) handleJWKS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(p.cfg.Keys.JWKS())
}
