package gatehouse

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/internal/secret"
)

// ClientSpec is what an administrator decides about a client: everything
// but its id, secret and times. The zero value of each optional field is the
// safe default.
type ClientSpec struct {
	// Name is shown to users on the consent page and their account page
	// (1–100 characters, required).
	Name string
	// AuthMethod is one of the ClientAuth* constants (default
	// ClientAuthSecretBasic). ClientAuthNone makes a public client.
	AuthMethod string
	// JWKS holds the client's public keys for ClientAuthPrivateKeyJWT.
	JWKS string
	// RedirectURIs: at least one for the authorization_code grant. Each is
	// an absolute URI without a fragment: https, http on a loopback host,
	// or a private-use scheme of a native app ("com.example.app:/cb").
	RedirectURIs []string
	// PostLogoutRedirectURIs follow the same rules.
	PostLogoutRedirectURIs []string
	// GrantTypes (default authorization_code and refresh_token).
	// client_credentials needs a confidential client.
	GrantTypes []string
	// Scopes the client may request (default openid, profile, email,
	// offline_access). Custom scopes appear in access tokens only.
	Scopes []string
	// IDTokenAlgorithm (default RS256) must be one the deployment keeps a
	// key for: RS256 or Tokens.Algorithm.
	IDTokenAlgorithm string
	// FirstParty skips the consent page.
	FirstParty bool
}

const (
	clientIDPrefix  = "cli"
	familyIDPrefix  = "grt"
	maxClientURIs   = 20
	maxClientScopes = 50
	maxClientJWKS   = 16 << 10
)

var defaultClientScopes = []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeOfflineAccess}

// ClientSecretPrefix starts every client secret, so secret scanners can
// recognise one that leaked into a repository.
const ClientSecretPrefix = "ghcs_"

func invalidClientSpec(field, msg string) *Error {
	return &Error{Code: CodeInvalidRequest, Field: field, Message: msg}
}

// validate checks spec and fills its defaults.
func (a *Auth) validateClientSpec(spec ClientSpec) (ClientSpec, error) {
	spec.Name = strings.TrimSpace(spec.Name)
	if n := utf8.RuneCountInString(spec.Name); n == 0 || n > 100 || strings.ContainsFunc(spec.Name, isControl) {
		return spec, invalidClientSpec("name", "Give the application a name of 1 to 100 characters.")
	}
	if spec.AuthMethod == "" {
		spec.AuthMethod = ClientAuthSecretBasic
	}
	switch spec.AuthMethod {
	case ClientAuthSecretBasic, ClientAuthSecretPost, ClientAuthNone:
		if spec.JWKS != "" {
			return spec, invalidClientSpec("jwks", "Keys are only for private_key_jwt clients.")
		}
	case ClientAuthPrivateKeyJWT:
		if _, err := parseClientJWKS(spec.JWKS); err != nil {
			return spec, err
		}
	default:
		return spec, invalidClientSpec("auth_method", "Use client_secret_basic, client_secret_post, private_key_jwt or none.")
	}
	if spec.GrantTypes == nil {
		spec.GrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}
	}
	spec.GrantTypes = dedupe(spec.GrantTypes)
	for _, g := range spec.GrantTypes {
		switch g {
		case GrantAuthorizationCode, GrantRefreshToken:
		case GrantClientCredentials:
			if spec.AuthMethod == ClientAuthNone {
				return spec, invalidClientSpec("grant_types", "client_credentials needs a client that can keep a secret.")
			}
		default:
			return spec, invalidClientSpec("grant_types", "Use the grant types authorization_code, refresh_token or client_credentials.")
		}
	}
	if len(spec.GrantTypes) == 0 {
		return spec, invalidClientSpec("grant_types", "Allow at least one grant type.")
	}
	if slices.Contains(spec.GrantTypes, GrantRefreshToken) && !slices.Contains(spec.GrantTypes, GrantAuthorizationCode) {
		return spec, invalidClientSpec("grant_types", "refresh_token comes with authorization_code.")
	}
	if slices.Contains(spec.GrantTypes, GrantAuthorizationCode) && len(spec.RedirectURIs) == 0 {
		return spec, invalidClientSpec("redirect_uris", "Register at least one redirect URI for the authorization_code grant.")
	}
	for field, uris := range map[string][]string{"redirect_uris": spec.RedirectURIs, "post_logout_redirect_uris": spec.PostLogoutRedirectURIs} {
		if len(uris) > maxClientURIs {
			return spec, invalidClientSpec(field, "Register at most 20 URIs.")
		}
		for _, u := range uris {
			if err := checkClientURI(field, u); err != nil {
				return spec, err
			}
		}
	}
	spec.RedirectURIs = dedupe(spec.RedirectURIs)
	spec.PostLogoutRedirectURIs = dedupe(spec.PostLogoutRedirectURIs)
	if spec.Scopes == nil {
		spec.Scopes = slices.Clone(defaultClientScopes)
	}
	spec.Scopes = dedupe(spec.Scopes)
	if len(spec.Scopes) > maxClientScopes {
		return spec, invalidClientSpec("scopes", "Allow at most 50 scopes.")
	}
	for _, s := range spec.Scopes {
		if !validScopeToken(s) {
			return spec, invalidClientSpec("scopes", "Each scope must be 1 to 100 printable ASCII characters without spaces, quotes or backslashes.")
		}
	}
	if spec.IDTokenAlgorithm == "" {
		spec.IDTokenAlgorithm = AlgRS256
	}
	if !slices.Contains(a.cfg.Tokens.algorithmsToKeep(), spec.IDTokenAlgorithm) {
		return spec, invalidClientSpec("id_token_algorithm", "Sign ID tokens with RS256 or the access-token algorithm (Tokens.Algorithm).")
	}
	return spec, nil
}

// plausibleClientID reports whether s could be a client id: the store is
// never asked about anything else (a NUL byte or invalid UTF-8 would be a
// database error, not "no such client").
func plausibleClientID(s string) bool {
	return s != "" && len(s) <= 100 && validScopeToken(s)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// validScopeToken is RFC 6749 §3.3's scope-token, at most 100 bytes.
func validScopeToken(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func dedupe(xs []string) []string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// checkClientURI is the registration rule for redirect and post-logout URIs
// (RFC 9700 §2.1, RFC 8252 §7). Its errors quote the URI for the
// administrator, so they are English only.
func checkClientURI(field, raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || len(raw) > 2000:
		return invalidClientSpec(field, fmt.Sprintf("%q is not an absolute URI.", raw))
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return invalidClientSpec(field, fmt.Sprintf("%q must not have a fragment (#).", raw))
	case strings.Contains(raw, "*"):
		return invalidClientSpec(field, fmt.Sprintf("%q must not contain wildcards: URIs are matched exactly.", raw))
	case u.User != nil:
		return invalidClientSpec(field, fmt.Sprintf("%q must not carry a user name or password.", raw))
	case strings.ContainsFunc(raw, func(r rune) bool { return r <= 0x20 || r >= 0x7f }):
		return invalidClientSpec(field, fmt.Sprintf("%q must be printable ASCII without spaces.", raw))
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return invalidClientSpec(field, fmt.Sprintf("%q has no host.", raw))
		}
	case "http":
		if !isLoopbackHost(u.Hostname()) {
			return invalidClientSpec(field, fmt.Sprintf("%q uses http on a host other than localhost, 127.0.0.1 or [::1]: use https.", raw))
		}
	case "javascript", "data", "file", "vbscript", "blob", "about", "ftp", "ws", "wss":
		return invalidClientSpec(field, fmt.Sprintf("%q uses a scheme that cannot receive a redirect.", raw))
	default:
		// A native app's private-use scheme: reverse domain notation
		// (RFC 8252 §7.1), so that apps do not claim each other's.
		if !strings.Contains(u.Scheme, ".") {
			return invalidClientSpec(field, fmt.Sprintf("%q: a native app's scheme must be a reverse domain name like com.example.app.", raw))
		}
	}
	return nil
}

// parseClientJWKS checks a private_key_jwt client's keys: public keys only,
// of the types and algorithms we verify, at most 16 KiB.
func parseClientJWKS(raw string) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	if raw == "" {
		return set, invalidClientSpec("jwks", "A private_key_jwt client needs its public keys (a JWKS).")
	}
	if len(raw) > maxClientJWKS {
		return set, invalidClientSpec("jwks", "The JWKS must be at most 16 KiB.")
	}
	if err := json.Unmarshal([]byte(raw), &set); err != nil || len(set.Keys) == 0 {
		return set, invalidClientSpec("jwks", "The JWKS must be a JSON object with a non-empty \"keys\" array.")
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || !k.Valid() {
			return set, invalidClientSpec("jwks", "Every key in the JWKS must be a valid public key.")
		}
		if k.Algorithm != "" && !slices.Contains(assertionAlgorithms, jose.SignatureAlgorithm(k.Algorithm)) {
			return set, invalidClientSpec("jwks", "A key's algorithm is not accepted: use RS256, PS256, ES256 or EdDSA.")
		}
	}
	return set, nil
}

// CreateClient registers a client. For client_secret_* clients it returns
// the secret, which is stored only as a hash: show it once.
func (a *Auth) CreateClient(ctx context.Context, spec ClientSpec) (OAuthClient, string, error) {
	spec, err := a.validateClientSpec(spec)
	if err != nil {
		return OAuthClient{}, "", err
	}
	now := a.Now()
	c := clientFromSpec(OAuthClient{ID: secret.NewID(clientIDPrefix), CreatedAt: now}, spec, now)
	var plain string
	if needsSecret(c.AuthMethod) {
		plain = ClientSecretPrefix + secret.NewToken()
		c.SecretHash = secret.HashToken(plain)
	}
	if err := a.store.CreateOAuthClient(ctx, c); err != nil {
		return OAuthClient{}, "", internalError("create client", err)
	}
	a.audit(ctx, AuditEvent{Type: EventClientCreated, SubjectID: c.ID})
	return c, plain, nil
}

func needsSecret(method string) bool {
	return method == ClientAuthSecretBasic || method == ClientAuthSecretPost
}

func clientFromSpec(c OAuthClient, spec ClientSpec, now time.Time) OAuthClient {
	c.Name, c.AuthMethod, c.JWKS = spec.Name, spec.AuthMethod, spec.JWKS
	c.RedirectURIs, c.PostLogoutRedirectURIs = spec.RedirectURIs, spec.PostLogoutRedirectURIs
	c.GrantTypes, c.Scopes = spec.GrantTypes, spec.Scopes
	c.IDTokenAlgorithm, c.FirstParty = spec.IDTokenAlgorithm, spec.FirstParty
	c.UpdatedAt = now
	return c
}

// Spec returns the administrator's decisions about c, for an update.
func (c OAuthClient) Spec() ClientSpec {
	return ClientSpec{Name: c.Name, AuthMethod: c.AuthMethod, JWKS: c.JWKS,
		RedirectURIs: slices.Clone(c.RedirectURIs), PostLogoutRedirectURIs: slices.Clone(c.PostLogoutRedirectURIs),
		GrantTypes: slices.Clone(c.GrantTypes), Scopes: slices.Clone(c.Scopes),
		IDTokenAlgorithm: c.IDTokenAlgorithm, FirstParty: c.FirstParty}
}

// UpdateClient replaces the client's spec. A change to a client_secret_*
// method keeps the secret; a change from a secret-less method to one that
// needs a secret returns a new secret (shown once), and a change away from
// one drops the secret.
func (a *Auth) UpdateClient(ctx context.Context, id string, spec ClientSpec) (OAuthClient, string, error) {
	old, err := a.Client(ctx, id)
	if err != nil {
		return OAuthClient{}, "", err
	}
	if spec, err = a.validateClientSpec(spec); err != nil {
		return OAuthClient{}, "", err
	}
	c := clientFromSpec(old, spec, a.Now())
	var plain string
	switch {
	case !needsSecret(c.AuthMethod):
		c.SecretHash = ""
	case c.SecretHash == "":
		plain = ClientSecretPrefix + secret.NewToken()
		c.SecretHash = secret.HashToken(plain)
	}
	if err := a.store.UpdateOAuthClient(ctx, c); err != nil {
		return OAuthClient{}, "", storeError("update client", err, errNoSuchClient)
	}
	a.audit(ctx, AuditEvent{Type: EventClientUpdated, SubjectID: c.ID})
	return c, plain, nil
}

// RotateClientSecret gives a client_secret_* client a new secret (shown
// once); the old one stops working at once.
func (a *Auth) RotateClientSecret(ctx context.Context, id string) (string, error) {
	c, err := a.Client(ctx, id)
	if err != nil {
		return "", err
	}
	if !needsSecret(c.AuthMethod) {
		return "", &Error{Code: CodeInvalidRequest, Message: "This client authenticates without a secret."}
	}
	plain := ClientSecretPrefix + secret.NewToken()
	c.SecretHash, c.UpdatedAt = secret.HashToken(plain), a.Now()
	if err := a.store.UpdateOAuthClient(ctx, c); err != nil {
		return "", storeError("rotate client secret", err, errNoSuchClient)
	}
	a.audit(ctx, AuditEvent{Type: EventClientSecretRotated, SubjectID: c.ID})
	return plain, nil
}

// DeleteClient deletes the client with everything it was granted.
func (a *Auth) DeleteClient(ctx context.Context, id string) error {
	if !plausibleClientID(id) {
		return errNoSuchClient
	}
	if err := a.store.DeleteOAuthClient(ctx, id); err != nil {
		return storeError("delete client", err, errNoSuchClient)
	}
	a.audit(ctx, AuditEvent{Type: EventClientDeleted, SubjectID: id})
	return nil
}

// Client returns the client or CodeNotFound.
func (a *Auth) Client(ctx context.Context, id string) (OAuthClient, error) {
	if !plausibleClientID(id) {
		return OAuthClient{}, errNoSuchClient
	}
	c, err := a.store.OAuthClientByID(ctx, id)
	if err != nil {
		return OAuthClient{}, storeError("load client", err, errNoSuchClient)
	}
	return c, nil
}

// Clients returns every client ordered by id.
func (a *Auth) Clients(ctx context.Context) ([]OAuthClient, error) {
	cs, err := a.store.ListOAuthClients(ctx)
	if err != nil {
		return nil, internalError("list clients", err)
	}
	return cs, nil
}

var errNoSuchClient = &Error{Code: CodeNotFound, Message: "No such client."}
