package discovery

import (
	"encoding/json"
	"net/http"
	"sort"

	"github.com/motlan/motlan/idp/claims"
)

// confidentialAuthMethods are how clients authenticate at revocation and introspection,
// which public clients cannot use.
var confidentialAuthMethods = []string{"client_secret_basic", "client_secret_post", "private_key_jwt"}

// Config is what the document advertises.
type Config struct {
	Issuer string
	// Endpoints are absolute URLs.
	Authorize, Token, UserInfo, JWKS, Logout, Revoke, Introspect, PAR string
	GrantTypes                                                        []string // the token endpoint's enabled grants
	AssertionAlgs                                                     []string // private_key_jwt algorithms
	DPoPAlgs                                                          []string // DPoP proof algorithms
}

// Document is OpenID Connect Discovery 1.0 section 3.
func Document(c Config) ([]byte, error) {
	scopes := []string{"openid", "offline_access", "sign", "signing"}
	for s := range claims.ByScope {
		scopes = append(scopes, s)
	}
	sort.Strings(scopes[4:])
	doc := map[string]any{
		"issuer":                                           c.Issuer,
		"authorization_endpoint":                           c.Authorize,
		"token_endpoint":                                   c.Token,
		"userinfo_endpoint":                                c.UserInfo,
		"jwks_uri":                                         c.JWKS,
		"end_session_endpoint":                             c.Logout,
		"backchannel_logout_supported":                     true,
		"backchannel_logout_session_supported":             true,
		"revocation_endpoint":                              c.Revoke,
		"introspection_endpoint":                           c.Introspect,
		"pushed_authorization_request_endpoint":            c.PAR,
		"require_pushed_authorization_requests":            false,
		"revocation_endpoint_auth_methods_supported":       confidentialAuthMethods,
		"introspection_endpoint_auth_methods_supported":    confidentialAuthMethods,
		"scopes_supported":                                 scopes,
		"response_types_supported":                         []string{"code"},
		"response_modes_supported":                         []string{"query"},
		"grant_types_supported":                            c.GrantTypes,
		"subject_types_supported":                          []string{"pairwise", "public"},
		"id_token_signing_alg_values_supported":            []string{"ES256", "RS256"},
		"token_endpoint_auth_methods_supported":            []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		"token_endpoint_auth_signing_alg_values_supported": c.AssertionAlgs,
		"code_challenge_methods_supported":                 []string{"S256"},
		"claims_supported":                                 claims.Supported(),
		"claims_parameter_supported":                       true,
		"request_parameter_supported":                      false,
		"request_uri_parameter_supported":                  false,
		"acr_values_supported":                             []string{"1", "2"},
		"ui_locales_supported":                             []string{"vi", "en"},
		"claims_locales_supported":                         []string{"vi"},
		"authorization_response_iss_parameter_supported":   true,
		"prompt_values_supported":                          []string{"none", "login", "consent", "select_account"},
		"dpop_signing_alg_values_supported":                c.DPoPAlgs,
		// OpenID Connect for Identity Assurance 1.0 (section 8): verified_claims in the ID
		// token and userinfo, under the Vietnamese eID framework, from its electronic record.
		"verified_claims_supported":           true,
		"trust_frameworks_supported":          []string{claims.TrustFramework},
		"evidence_supported":                  []string{claims.EvidenceType},
		"electronic_records_supported":        []string{claims.RecordType},
		"claims_in_verified_claims_supported": claims.InVerifiedClaims(),
	}
	return json.MarshalIndent(doc, "", "  ")
}

// Handler serves the discovery document, built once.
func Handler(doc []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_, _ = w.Write(doc)
	}
}

// JWKSHandler serves the current key set.
func JWKSHandler(jwks func() []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_, _ = w.Write(jwks())
	}
}
