package verify

// Reason says, in fixed words, why a token or a request was refused. The set
// is closed: a Reason never carries bytes taken from the token, so it is safe
// to log and to show to the client that sent the token.
type Reason string

// The reasons Verify, BearerToken and the middleware report.
const (
	// ReasonNoToken: the request carries no Bearer credential at all (no
	// Authorization header, or one with another scheme). RFC 6750 §3.1 asks
	// for a bare challenge, without an error code, in that case.
	ReasonNoToken Reason = "no token"
	// ReasonTooLarge: the token exceeds MaxTokenSize and was not parsed.
	ReasonTooLarge Reason = "token too large"
	// ReasonMalformed: not a well-formed compact JWS with the header and
	// claims an access token needs (including a missing or unusable kid and
	// claims of the wrong JSON type).
	ReasonMalformed Reason = "malformed token"
	// ReasonAlgorithm: the header's alg is not allowed by Config.Algorithms,
	// or does not match the key the kid names (its key type or its own alg).
	ReasonAlgorithm Reason = "unsupported algorithm"
	// ReasonHeader: the header marks an extension critical ("crit") or asks
	// for an unencoded payload ("b64"); this package understands neither.
	ReasonHeader Reason = "unsupported header"
	// ReasonTokenType: the header's typ is missing or is not Config.TokenType
	// (an ID token presented as an access token, for example).
	ReasonTokenType Reason = "wrong token type"
	// ReasonUnknownKey: no usable public key is published under the kid.
	ReasonUnknownKey Reason = "unknown key"
	// ReasonKeysUnavailable: the key source failed (the JWK Set could not be
	// fetched or parsed, or the request's context ended), so the token could
	// be neither accepted nor refused on its merits. Callers should answer
	// with a 5xx, not a 401: the client's token may well be fine.
	ReasonKeysUnavailable Reason = "keys unavailable"
	// ReasonSignature: the signature does not verify under the key.
	ReasonSignature Reason = "bad signature"
	// ReasonMissingClaim: a required claim (iss, sub, aud, exp, iat) is absent.
	ReasonMissingClaim Reason = "missing claim"
	// ReasonIssuer: iss is not exactly Config.Issuer.
	ReasonIssuer Reason = "wrong issuer"
	// ReasonAudience: Config.Audience is not among aud.
	ReasonAudience Reason = "wrong audience"
	// ReasonExpired: exp is past, beyond the leeway.
	ReasonExpired Reason = "expired"
	// ReasonNotYetValid: nbf or iat is in the future, beyond the leeway.
	ReasonNotYetValid Reason = "not yet valid"
)

// Error is the one error type of this package. Reason is fixed text; Err, when
// set, is the key source's error (ErrUnknownKey, a JWK Set fetch failure, a
// context error) for errors.Is and logs. Errors from parsing the token itself
// are deliberately not wrapped: their text can quote attacker-chosen bytes.
type Error struct {
	Reason Reason
	Err    error
}

// Error returns "verify: " and the reason, then the key source's error if any.
func (e *Error) Error() string {
	if e.Err != nil {
		return "verify: " + string(e.Reason) + ": " + e.Err.Error()
	}
	return "verify: " + string(e.Reason)
}

// Unwrap returns the key source's error, if any.
func (e *Error) Unwrap() error { return e.Err }

func fail(r Reason) *Error { return &Error{Reason: r} }
