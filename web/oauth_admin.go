package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// ClientJSON is the wire shape of an OAuth client, shared by the clients
// admin API and `gatehouse clients`. It never carries the secret or its
// hash: a secret is shown once, beside it, when it is created.
type ClientJSON struct {
	ID                     string   `json:"id"`
	Name                   string   `json:"name"`
	AuthMethod             string   `json:"auth_method"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	GrantTypes             []string `json:"grant_types"`
	Scopes                 []string `json:"scopes"`
	IDTokenAlgorithm       string   `json:"id_token_algorithm"`
	FirstParty             bool     `json:"first_party"`
	// JWKS is the private_key_jwt client's public keys, as registered;
	// absent for other clients.
	JWKS      json.RawMessage `json:"jwks,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// NewClientJSON converts a client to its wire shape: lists never null,
// times in UTC to the second.
func NewClientJSON(c gatehouse.OAuthClient) ClientJSON {
	list := func(xs []string) []string {
		if xs == nil {
			return []string{}
		}
		return xs
	}
	out := ClientJSON{ID: c.ID, Name: c.Name, AuthMethod: c.AuthMethod,
		RedirectURIs: list(c.RedirectURIs), PostLogoutRedirectURIs: list(c.PostLogoutRedirectURIs),
		GrantTypes: list(c.GrantTypes), Scopes: list(c.Scopes), IDTokenAlgorithm: c.IDTokenAlgorithm, FirstParty: c.FirstParty,
		CreatedAt: c.CreatedAt.UTC().Truncate(time.Second), UpdatedAt: c.UpdatedAt.UTC().Truncate(time.Second)}
	if c.JWKS != "" && json.Valid([]byte(c.JWKS)) {
		out.JWKS = json.RawMessage(c.JWKS)
	}
	return out
}

// clientWithSecretJSON is a client and, when one was just created, its
// secret: the only response that ever holds it.
type clientWithSecretJSON struct {
	ClientJSON
	ClientSecret string `json:"client_secret,omitempty"`
}

// clientSpecJSON is the body of POST {base}/api/admin/clients. An absent
// list takes the core's default; jwks is a JSON object, stored as its text.
type clientSpecJSON struct {
	Name                   string          `json:"name"`
	AuthMethod             string          `json:"auth_method"`
	RedirectURIs           []string        `json:"redirect_uris"`
	PostLogoutRedirectURIs []string        `json:"post_logout_redirect_uris"`
	GrantTypes             []string        `json:"grant_types"`
	Scopes                 []string        `json:"scopes"`
	IDTokenAlgorithm       string          `json:"id_token_algorithm"`
	FirstParty             bool            `json:"first_party"`
	JWKS                   json.RawMessage `json:"jwks"`
}

// clientPatchJSON is the body of PATCH {base}/api/admin/clients/{id}: only
// the fields present change. "jwks": null removes the keys.
type clientPatchJSON struct {
	Name                   *string         `json:"name"`
	AuthMethod             *string         `json:"auth_method"`
	RedirectURIs           *[]string       `json:"redirect_uris"`
	PostLogoutRedirectURIs *[]string       `json:"post_logout_redirect_uris"`
	GrantTypes             *[]string       `json:"grant_types"`
	Scopes                 *[]string       `json:"scopes"`
	IDTokenAlgorithm       *string         `json:"id_token_algorithm"`
	FirstParty             *bool           `json:"first_party"`
	JWKS                   json.RawMessage `json:"jwks"`
}

// jwksText turns the jwks field into the text the core stores: "" for
// null, the compacted object otherwise.
func jwksText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil || buf.Len() == 0 || buf.Bytes()[0] != '{' {
		return "", &gatehouse.Error{Code: gatehouse.CodeInvalidRequest, Field: "jwks", Message: "The jwks field must be a JSON Web Key Set object."}
	}
	return buf.String(), nil
}

// admin wraps a route of the administrative API: a signed-in principal
// (session cookie or first-party Bearer token) holding gatehouse:admin,
// checked with gatehouse.Authorize as every admin endpoint does.
func (h *Handler) admin(fn http.HandlerFunc) http.HandlerFunc {
	return h.private(func(w http.ResponseWriter, r *http.Request) {
		if err := gatehouse.Authorize(r.Context(), gatehouse.PermissionAdmin); err != nil {
			h.writeError(w, r, err)
			return
		}
		fn(w, r)
	})
}

// apiAdminClients lists every client, ordered by id.
func (h *Handler) apiAdminClients(w http.ResponseWriter, r *http.Request) {
	cs, err := h.auth.Clients(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := struct {
		Clients []ClientJSON `json:"clients"`
	}{Clients: make([]ClientJSON, 0, len(cs))}
	for _, c := range cs {
		out.Clients = append(out.Clients, NewClientJSON(c))
	}
	writeJSON(w, http.StatusOK, out)
}

// apiAdminCreateClient registers a client: 201 with the client and, for a
// client_secret_* client, its secret, shown this once.
func (h *Handler) apiAdminCreateClient(w http.ResponseWriter, r *http.Request) {
	var in clientSpecJSON
	if err := decodeJSON(w, r, &in); err != nil {
		h.writeError(w, r, err)
		return
	}
	jwks, err := jwksText(in.JWKS)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	c, secret, err := h.auth.CreateClient(r.Context(), gatehouse.ClientSpec{
		Name: in.Name, AuthMethod: in.AuthMethod, JWKS: jwks,
		RedirectURIs: in.RedirectURIs, PostLogoutRedirectURIs: in.PostLogoutRedirectURIs,
		GrantTypes: in.GrantTypes, Scopes: in.Scopes, IDTokenAlgorithm: in.IDTokenAlgorithm, FirstParty: in.FirstParty,
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, clientWithSecretJSON{ClientJSON: NewClientJSON(c), ClientSecret: secret})
}

// apiAdminClient returns one client.
func (h *Handler) apiAdminClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, err := h.auth.Client(r.Context(), id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewClientJSON(c))
}

// apiAdminUpdateClient changes the fields present in the body, merged onto
// the client's current spec. A client that moves to a method needing a
// secret gets one, returned this once; one that moves away from
// private_key_jwt loses its keys unless the body sets jwks.
func (h *Handler) apiAdminUpdateClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var in clientPatchJSON
	if err := decodeJSON(w, r, &in); err != nil {
		h.writeError(w, r, err)
		return
	}
	old, err := h.auth.Client(r.Context(), id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	spec := old.Spec()
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setList := func(dst *[]string, v *[]string) {
		if v != nil && *v != nil {
			*dst = *v
		}
	}
	set(&spec.Name, in.Name)
	set(&spec.AuthMethod, in.AuthMethod)
	set(&spec.IDTokenAlgorithm, in.IDTokenAlgorithm)
	setList(&spec.RedirectURIs, in.RedirectURIs)
	setList(&spec.PostLogoutRedirectURIs, in.PostLogoutRedirectURIs)
	setList(&spec.GrantTypes, in.GrantTypes)
	setList(&spec.Scopes, in.Scopes)
	if in.FirstParty != nil {
		spec.FirstParty = *in.FirstParty
	}
	switch {
	case in.JWKS != nil:
		if spec.JWKS, err = jwksText(in.JWKS); err != nil {
			h.writeError(w, r, err)
			return
		}
	case spec.AuthMethod != gatehouse.ClientAuthPrivateKeyJWT:
		spec.JWKS = ""
	}
	c, secret, err := h.auth.UpdateClient(r.Context(), id, spec)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, clientWithSecretJSON{ClientJSON: NewClientJSON(c), ClientSecret: secret})
}

// apiAdminRotateClientSecret gives a client_secret_* client a new secret,
// returned this once; the old one stops working at once.
func (h *Handler) apiAdminRotateClientSecret(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	secret, err := h.auth.RotateClientSecret(r.Context(), id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		ClientSecret string `json:"client_secret"`
	}{secret})
}

// apiAdminDeleteClient deletes a client with everything it was granted.
func (h *Handler) apiAdminDeleteClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := h.auth.DeleteClient(r.Context(), id); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
