package verify

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/json"
)

// MaxTokenSize bounds a token: a longer one is refused before any parsing.
// Gatehouse's access tokens are well under 2 KiB.
const MaxTokenSize = 8 << 10

const (
	defaultLeeway = 30 * time.Second
	maxLeeway     = 2 * time.Minute
)

// Config holds a Verifier's settings. The zero value of each optional field
// is the safe default; New validates the rest.
type Config struct {
	// Issuer is the exact iss the tokens must carry: Gatehouse's public URL
	// followed by its base path, e.g. "https://auth.example.com/auth".
	// Required. Compared byte for byte (no trailing-slash or case folding).
	Issuer string
	// Audience must be among the token's aud. Required: it is what stops a
	// token minted for another service (or a third-party OIDC client) from
	// being replayed here.
	Audience string
	// Leeway tolerates clock skew between the issuer and this service when
	// checking exp, nbf and iat. Zero means 30 s; more than 2 min is refused,
	// as it would stretch the token lifetime (≤ 5 min) by that much.
	Leeway time.Duration
	// Algorithms is the allowlist of the header's alg. Empty means EdDSA,
	// RS256 and ES256, the only algorithms this package implements. New
	// refuses "none" and every HMAC algorithm (HS256…): a verifier that
	// accepts a MAC under a public key accepts tokens anyone can forge
	// (RFC 8725 §2.1, §3.1).
	Algorithms []string
	// TokenType is the header's required typ. Empty means "at+jwt" (RFC 9068
	// §2.1), which keeps ID tokens (typ "JWT" or none) from being used as
	// access tokens. Compared case-insensitively, with or without the
	// "application/" prefix (RFC 9068 §4).
	TokenType string
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
}

// Verifier checks Gatehouse access tokens. It is immutable and safe for
// concurrent use.
type Verifier struct {
	issuer   string
	audience string
	leeway   time.Duration
	algs     []jose.SignatureAlgorithm
	typ      string
	now      func() time.Time
	keys     Keys
}

// Claims are the claims of a verified access token (RFC 9068 §2.2 and
// Gatehouse's own). Absent optional claims are zero.
type Claims struct {
	Issuer    string
	Subject   string   // the user id
	Audience  []string // always contains Config.Audience
	Expiry    time.Time
	IssuedAt  time.Time
	NotBefore time.Time // zero when the token has no nbf
	ID        string    // jti
	ClientID  string    // client_id
	SessionID string    // sid: the Gatehouse session the token was minted from
	Scope     string    // space-separated scopes, when any
	AMR       []string  // authentication methods, e.g. ["pwd"] (RFC 8176)
	Roles     []string
	AAL       int // authenticator assurance level: 1, or 2 after a second factor
}

// New returns a Verifier that trusts the keys from keys for the issuer and
// audience in cfg. It refuses a configuration that is incomplete or unsafe
// rather than guess.
func New(cfg Config, keys Keys) (*Verifier, error) {
	if keys == nil {
		return nil, errors.New("verify: keys are required")
	}
	if cfg.Issuer == "" {
		return nil, errors.New("verify: Config.Issuer is required")
	}
	if cfg.Audience == "" {
		return nil, errors.New("verify: Config.Audience is required")
	}
	v := &Verifier{issuer: cfg.Issuer, audience: cfg.Audience, leeway: cfg.Leeway, now: cfg.Clock, keys: keys}
	switch {
	case v.leeway == 0:
		v.leeway = defaultLeeway
	case v.leeway < 0 || v.leeway > maxLeeway:
		return nil, fmt.Errorf("verify: Config.Leeway must be between 0 and %s", maxLeeway)
	}
	if v.now == nil {
		v.now = time.Now
	}
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = []string{algEdDSA, algRS256, algES256}
	}
	for _, a := range algs {
		switch {
		case strings.EqualFold(a, "none") || strings.HasPrefix(strings.ToUpper(a), "HS"):
			return nil, fmt.Errorf("verify: algorithm %q is not allowed: only asymmetric signatures can be verified safely", a)
		case !supportedAlg(a):
			return nil, fmt.Errorf("verify: unsupported algorithm %q (supported: EdDSA, RS256, ES256)", a)
		}
		if !slices.Contains(v.algs, jose.SignatureAlgorithm(a)) {
			v.algs = append(v.algs, jose.SignatureAlgorithm(a))
		}
	}
	v.typ = normalizeTyp(cfg.TokenType)
	if v.typ == "" {
		v.typ = "at+jwt"
	}
	return v, nil
}

// normalizeTyp folds a media type as RFC 7515 §4.1.9 compares it.
func normalizeTyp(t string) string {
	t = strings.ToLower(t)
	return strings.TrimPrefix(t, "application/")
}

// Verify checks token and returns its claims. It fails with an *Error unless
// the token is a compact JWS no larger than MaxTokenSize, with an allowed alg,
// the configured typ, no critical extensions and a kid the Keys know; its
// signature verifies under that key (whose type and own alg must match the
// header's alg); iss is Config.Issuer; aud contains Config.Audience; and exp,
// nbf and iat hold at the current time within the leeway.
//
// Header fields that name or carry keys (jku, x5u, jwk, x5c) are ignored: the
// key comes from Keys only, found by kid. A Keys error other than
// ErrUnknownKey yields ReasonKeysUnavailable, which is not a verdict on the
// token.
//
// A token that verifies was issued by the issuer and has not expired; it may
// still belong to a session revoked since (see the package documentation).
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if len(token) > MaxTokenSize {
		return nil, fail(ReasonTooLarge)
	}
	if !compactJWS(token) {
		return nil, fail(ReasonMalformed)
	}
	jws, err := jose.ParseSignedCompact(token, v.algs)
	if err != nil {
		if _, ok := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); ok {
			return nil, fail(ReasonAlgorithm)
		}
		return nil, fail(ReasonMalformed)
	}
	if len(jws.Signatures) != 1 {
		return nil, fail(ReasonMalformed)
	}
	h := jws.Signatures[0].Protected
	alg := h.Algorithm
	if _, ok := h.ExtraHeaders["crit"]; ok {
		return nil, fail(ReasonHeader)
	}
	if _, ok := h.ExtraHeaders["b64"]; ok {
		return nil, fail(ReasonHeader)
	}
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); normalizeTyp(typ) != v.typ {
		return nil, fail(ReasonTokenType)
	}
	if !validKID(h.KeyID) {
		return nil, fail(ReasonMalformed)
	}

	key, err := v.keys.Key(ctx, h.KeyID)
	switch {
	case errors.Is(err, ErrUnknownKey):
		return nil, &Error{Reason: ReasonUnknownKey, Err: err}
	case err != nil:
		return nil, &Error{Reason: ReasonKeysUnavailable, Err: err}
	case key.KeyID != h.KeyID || !usable(key):
		return nil, fail(ReasonUnknownKey)
	case key.Algorithm != "" && key.Algorithm != alg, !keyFits(alg, key.Key):
		return nil, fail(ReasonAlgorithm)
	}
	payload, err := jws.Verify(key.Key)
	if err != nil {
		return nil, fail(ReasonSignature)
	}
	return v.checkClaims(payload)
}

// compactJWS accepts exactly three non-empty, canonically base64url-encoded
// parts (RFC 7515 §7.1). That refuses the JSON serialization, JWE (five
// parts), padding, whitespace and trailing bytes, and makes each token have
// exactly one spelling.
func compactJWS(token string) bool {
	parts := 0
	start := 0
	for i := 0; i <= len(token); i++ {
		if i < len(token) && token[i] != '.' {
			if !isB64URL(token[i]) {
				return false
			}
			continue
		}
		if parts == 3 || !canonicalB64(token[start:i]) {
			return false
		}
		parts++
		start = i + 1
	}
	return parts == 3
}

func isB64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// canonicalB64 checks the length and the unused low bits of the last
// character of unpadded base64url, which decoders otherwise ignore.
func canonicalB64(s string) bool {
	if s == "" {
		return false
	}
	var mask byte
	switch len(s) % 4 {
	case 1:
		return false
	case 2:
		mask = 0x0f
	case 3:
		mask = 0x03
	default:
		return true
	}
	return b64Value(s[len(s)-1])&mask == 0
}

func b64Value(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c - 'A'
	case 'a' <= c && c <= 'z':
		return c - 'a' + 26
	case '0' <= c && c <= '9':
		return c - '0' + 52
	case c == '-':
		return 62
	}
	return 63
}

// rawClaims is the wire form. It is decoded with go-jose's json, which
// matches member names case-sensitively and refuses duplicate members.
type rawClaims struct {
	Issuer    string       `json:"iss"`
	Subject   string       `json:"sub"`
	Audience  audience     `json:"aud"`
	Expiry    *numericDate `json:"exp"`
	IssuedAt  *numericDate `json:"iat"`
	NotBefore *numericDate `json:"nbf"`
	ID        string       `json:"jti"`
	ClientID  string       `json:"client_id"`
	SessionID string       `json:"sid"`
	Scope     string       `json:"scope"`
	AMR       []string     `json:"amr"`
	Roles     []string     `json:"roles"`
	AAL       int          `json:"aal"`
}

func (v *Verifier) checkClaims(payload []byte) (*Claims, error) {
	var rc rawClaims
	if err := json.Unmarshal(payload, &rc); err != nil || rc.AAL < 0 {
		return nil, fail(ReasonMalformed)
	}
	if rc.Issuer == "" || rc.Subject == "" || len(rc.Audience) == 0 || rc.Expiry == nil || rc.IssuedAt == nil {
		return nil, fail(ReasonMissingClaim)
	}
	if rc.Issuer != v.issuer {
		return nil, fail(ReasonIssuer)
	}
	if !slices.Contains(rc.Audience, v.audience) {
		return nil, fail(ReasonAudience)
	}
	now := v.now()
	c := &Claims{
		Issuer: rc.Issuer, Subject: rc.Subject, Audience: rc.Audience,
		Expiry: rc.Expiry.t, IssuedAt: rc.IssuedAt.t,
		ID: rc.ID, ClientID: rc.ClientID, SessionID: rc.SessionID, Scope: rc.Scope,
		AMR: rc.AMR, Roles: rc.Roles, AAL: rc.AAL,
	}
	// exp is the first instant the token is no longer good (RFC 7519 §4.1.4).
	if !now.Before(c.Expiry.Add(v.leeway)) {
		return nil, fail(ReasonExpired)
	}
	if rc.NotBefore != nil {
		c.NotBefore = rc.NotBefore.t
		if now.Add(v.leeway).Before(c.NotBefore) {
			return nil, fail(ReasonNotYetValid)
		}
	}
	if now.Add(v.leeway).Before(c.IssuedAt) {
		return nil, fail(ReasonNotYetValid)
	}
	return c, nil
}

// audience is aud as a string or an array of strings (RFC 7519 §4.1.3).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return err
	}
	*a = ss
	return nil
}

// numericDate is seconds since the epoch, possibly fractional (RFC 7519 §2).
type numericDate struct{ t time.Time }

// maxNumericDate (year 10000) keeps the conversion to time.Time exact and
// refuses absurd values.
const maxNumericDate = 253402300800

func (d *numericDate) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f >= maxNumericDate {
		return errors.New("bad NumericDate")
	}
	sec, frac := math.Modf(f)
	d.t = time.Unix(int64(sec), int64(frac*1e9))
	return nil
}
