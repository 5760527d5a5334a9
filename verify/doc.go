// Package verify checks Gatehouse access tokens in other Go services (and in
// Gatehouse itself): short-lived JWTs (RFC 9068, typ "at+jwt") signed with
// EdDSA, RS256 or ES256 under keys published at the issuer's JWKS endpoint.
//
// It holds a Verifier (New, Verify), the key sources it reads from (JWKS, a
// cached remote JWK Set; StaticKeys, a pinned one), the Claims of a verified
// token and a net/http middleware. It is a leaf: it imports only the standard
// library and go-jose, never another package of this module, so a service can
// depend on it without pulling in Gatehouse.
//
// Protecting a net/http service:
//
//	keys := verify.NewJWKS("https://auth.example.com/auth/.well-known/jwks.json")
//	v, err := verify.New(verify.Config{
//		Issuer:   "https://auth.example.com/auth",
//		Audience: "https://app.example.com",
//	}, keys)
//	if err != nil {
//		return err
//	}
//	mux.Handle("/api/", v.Middleware(api)) // api reads verify.ClaimsFrom(r.Context())
//	return http.ListenAndServe(":8081", mux)
//
// Revocation. Verification here is offline: it checks the signature, the
// issuer, the audience and the lifetime, and never asks Gatehouse about the
// session. Outside Gatehouse, a token minted from a session that has since
// been revoked (signed out, password reset, account disabled) stays valid
// until its exp — at most 5 minutes. Services that need revocation to take
// effect at once must call Gatehouse instead (its API checks each token's
// sid against the live session).
//
// Only the key source decides which keys are trusted: key material or URLs in
// a token's header (jwk, x5c, jku, x5u) are never used.
package verify
