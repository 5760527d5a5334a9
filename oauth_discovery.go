package gatehouse

// ProviderMetadata is the OpenID Provider's discovery document (OpenID
// Connect Discovery 1.0 §3, RFC 8414 §2). Field order is the wire order.
type ProviderMetadata struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	UserinfoEndpoint                           string   `json:"userinfo_endpoint"`
	JWKSURI                                    string   `json:"jwks_uri"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	EndSessionEndpoint                         string   `json:"end_session_endpoint"`
	ScopesSupported                            []string `json:"scopes_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	SubjectTypesSupported                      []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported           []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	ClaimsSupported                            []string `json:"claims_supported"`
	PromptValuesSupported                      []string `json:"prompt_values_supported"`
	AuthorizationResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	RequestParameterSupported                  bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported               bool     `json:"request_uri_parameter_supported"`
	ClaimsParameterSupported                   bool     `json:"claims_parameter_supported"`
}

// ProviderMetadata returns the discovery document. Every URL derives from
// Issuer, which comes from configuration, never from a request's headers.
func (a *Auth) ProviderMetadata() ProviderMetadata {
	iss := a.Issuer()
	secretMethods := []string{ClientAuthSecretBasic, ClientAuthSecretPost, ClientAuthPrivateKeyJWT}
	var assertionAlgs []string
	for _, alg := range assertionAlgorithms {
		assertionAlgs = append(assertionAlgs, string(alg))
	}
	return ProviderMetadata{
		Issuer:                                     iss,
		AuthorizationEndpoint:                      iss + "/oauth2/authorize",
		TokenEndpoint:                              iss + "/oauth2/token",
		UserinfoEndpoint:                           iss + "/oauth2/userinfo",
		JWKSURI:                                    iss + "/.well-known/jwks.json",
		RevocationEndpoint:                         iss + "/oauth2/revoke",
		IntrospectionEndpoint:                      iss + "/oauth2/introspect",
		EndSessionEndpoint:                         iss + "/oauth2/logout",
		ScopesSupported:                            []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeOfflineAccess},
		ResponseTypesSupported:                     []string{"code"},
		ResponseModesSupported:                     []string{"query"},
		GrantTypesSupported:                        []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials},
		SubjectTypesSupported:                      []string{"public"},
		IDTokenSigningAlgValuesSupported:           a.cfg.Tokens.algorithmsToKeep(),
		TokenEndpointAuthMethodsSupported:          append(secretMethods, ClientAuthNone),
		TokenEndpointAuthSigningAlgValuesSupported: assertionAlgs,
		RevocationEndpointAuthMethodsSupported:     append(secretMethods, ClientAuthNone),
		IntrospectionEndpointAuthMethodsSupported:  secretMethods,
		CodeChallengeMethodsSupported:              []string{"S256"},
		ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash", "sid",
			"email", "email_verified", "name", "updated_at"},
		PromptValuesSupported:                      []string{"none", "login", "consent"},
		AuthorizationResponseIssParameterSupported: true,
	}
}
