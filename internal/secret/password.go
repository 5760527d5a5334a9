package secret

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Params are argon2id cost parameters (RFC 9106 section 3.1).
//
// Raising Memory or Time makes offline cracking of a leaked hash slower and
// every login slower and hungrier by the same factor; a login needs Memory KiB
// of RAM for its duration, which is why hashing runs in a bounded Pool.
type Params struct {
	// Memory is the memory cost in KiB.
	Memory uint32
	// Time is the number of passes over the memory.
	Time uint32
	// Threads is the degree of parallelism (lanes).
	Threads uint8
	// SaltLen is the length in bytes of the random salt of a new hash.
	SaltLen uint32
	// KeyLen is the length in bytes of the derived hash.
	KeyLen uint32
}

// DefaultParams is the OWASP Password Storage Cheat Sheet minimum for
// argon2id: 19 MiB of memory, 2 passes, 1 lane, with a 16-byte salt and a
// 32-byte hash. Treat it as a constant; production should use at least this.
// Tests may pass cheaper Params (for example Memory 64, Time 1) to
// HashPassword or NewHasher; the package itself never lowers the cost.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds for argon2id parameters. The upper cost bounds apply both to Params
// we hash with and to parameters read back from a stored hash, so that every
// hash HashPassword produces is also one VerifyPassword accepts, and so that a
// planted or corrupted hash cannot make a login demand gigabytes of memory or
// minutes of CPU.
const (
	maxMemory  = 1 << 20 // KiB, 1 GiB
	maxTime    = 64
	maxThreads = 16
	minSaltLen = 16 // for new hashes, RFC 9106 section 3.1
	minKeyLen  = 16
	maxSaltKey = 1024

	minParsedSaltLen = 8 // the argon2 reference accepts 8-byte salts in stored hashes
	maxEncodedLen    = 4096

	maxBcryptCost = 16 // 2^16 rounds, several seconds: enough for any sane import
)

// Errors reported by VerifyPassword, IsSupportedHash and the Hasher.
var (
	// ErrMalformedHash means a stored hash could not be parsed, or names
	// cost parameters outside the accepted bounds.
	ErrMalformedHash = errors.New("secret: malformed password hash")
	// ErrUnsupportedHash means a stored hash uses a scheme other than
	// argon2id or bcrypt ($2a$, $2b$, $2y$).
	ErrUnsupportedHash = errors.New("secret: unsupported password hash scheme")
)

// Validate reports whether p is usable for new hashes: Time >= 1,
// Threads between 1 and 16, Memory between 8*Threads KiB and 1 GiB,
// Time <= 64, and SaltLen and KeyLen between 16 and 1024 bytes.
//
// The lower bounds are those of argon2 itself, not security recommendations,
// so tests can run with a few KiB; choosing production costs (at least
// DefaultParams) is the caller's responsibility.
func (p Params) Validate() error {
	switch {
	case p.Threads < 1 || p.Threads > maxThreads:
		return fmt.Errorf("secret: argon2id threads must be between 1 and %d, got %d", maxThreads, p.Threads)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("secret: argon2id time must be between 1 and %d, got %d", maxTime, p.Time)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("secret: argon2id memory must be between 8*threads (%d) KiB and %d KiB (1 GiB), got %d", 8*uint32(p.Threads), maxMemory, p.Memory)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltKey:
		return fmt.Errorf("secret: argon2id salt length must be between %d and %d bytes, got %d", minSaltLen, maxSaltKey, p.SaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxSaltKey:
		return fmt.Errorf("secret: argon2id key length must be between %d and %d bytes, got %d", minKeyLen, maxSaltKey, p.KeyLen)
	}
	return nil
}

// HashPassword hashes password with argon2id and a fresh random salt, and
// returns it in the PHC string format used by the argon2 reference
// implementation, for example
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// with salt and hash in unpadded standard base64. It returns an error only
// when p is invalid (see Params.Validate).
//
// HashPassword uses Memory KiB and Time passes of CPU per call; servers
// should call it through a Hasher so a burst of logins is bounded. The
// password is hashed as given: any Unicode normalization is the caller's.
func HashPassword(password string, p Params) (string, error) {
	if err := p.Validate(); err != nil {
		return "", fmt.Errorf("secret: hash password: %w", err)
	}
	salt := make([]byte, p.SaltLen)
	_, _ = rand.Read(salt) // never fails since Go 1.24
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return encodeArgon2id(p, salt, key), nil
}

func encodeArgon2id(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// b64 is the PHC encoding: standard alphabet, no padding, and strict so that
// each hash has exactly one accepted spelling.
var b64 = base64.RawStdEncoding.Strict()

// VerifyPassword checks password against encoded, a hash produced by
// HashPassword or imported from another system.
//
// Supported schemes are argon2id in PHC format (version 19, with whatever
// parameters the string names, as long as Memory <= 1 GiB, Time <= 64 and
// Threads <= 16) and bcrypt with prefix $2a$, $2b$ or $2y$ and cost <= 16.
// The bounds keep a planted or corrupted hash from turning one login into a
// denial of service; hashes beyond them are reported as malformed.
//
// match is computed with a constant-time comparison. rehash is true only
// when match is true and the stored hash is not argon2id or its parameters
// (including salt and key length) differ from want: the caller should then
// store HashPassword(password, want) in its place.
//
// err wraps ErrMalformedHash when encoded cannot be parsed and
// ErrUnsupportedHash when it uses another scheme; match is false then.
// A wrong password is not an error.
func VerifyPassword(password, encoded string, want Params) (match, rehash bool, err error) {
	h, err := parseHash(encoded)
	if err != nil {
		return false, false, err
	}
	switch h.scheme {
	case schemeBcrypt:
		err := bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password))
		switch {
		case err == nil:
			return true, true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, false, nil
		default:
			// parseHash should have caught this; keep bcrypt's detail out.
			return false, false, fmt.Errorf("%w: bcrypt", ErrMalformedHash)
		}
	default:
		key := argon2.IDKey([]byte(password), h.salt, h.params.Time, h.params.Memory, h.params.Threads, h.params.KeyLen)
		match = subtle.ConstantTimeCompare(key, h.key) == 1
		return match, match && h.params != want, nil
	}
}

// IsSupportedHash returns nil when VerifyPassword can check passwords against
// encoded, and otherwise the error VerifyPassword would return (wrapping
// ErrMalformedHash or ErrUnsupportedHash). Use it to validate imported hashes
// before storing them. It does no hashing work.
func IsSupportedHash(encoded string) error {
	_, err := parseHash(encoded)
	return err
}

type scheme int

const (
	schemeArgon2id scheme = iota + 1
	schemeBcrypt
)

// parsedHash is a stored hash taken apart. For bcrypt only scheme and
// bcryptCost are set; x/crypto/bcrypt parses the rest itself.
type parsedHash struct {
	scheme     scheme
	params     Params
	salt, key  []byte
	bcryptCost int
}

// parseHash checks everything about encoded that can be checked without
// hashing, including the cost bounds, so that the expensive step that follows
// cannot fail or be abused.
func parseHash(encoded string) (parsedHash, error) {
	if encoded == "" {
		return parsedHash{}, fmt.Errorf("%w: empty", ErrMalformedHash)
	}
	if len(encoded) > maxEncodedLen {
		return parsedHash{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformedHash, maxEncodedLen)
	}
	if encoded[0] != '$' {
		return parsedHash{}, fmt.Errorf("%w: does not start with $", ErrMalformedHash)
	}
	id, _, ok := strings.Cut(encoded[1:], "$")
	if !ok || id == "" {
		return parsedHash{}, fmt.Errorf("%w: no scheme identifier", ErrMalformedHash)
	}
	switch id {
	case "argon2id":
		return parseArgon2id(encoded)
	case "2a", "2b", "2y":
		return parseBcrypt(encoded)
	default:
		// The id is one of a few bytes that are not secret; quoting it helps
		// an operator tell what was imported.
		if len(id) > 16 {
			id = id[:16]
		}
		return parsedHash{}, fmt.Errorf("%w: %q", ErrUnsupportedHash, id)
	}
}

func parseArgon2id(encoded string) (parsedHash, error) {
	malformed := func(why string) (parsedHash, error) {
		return parsedHash{}, fmt.Errorf("%w: argon2id: %s", ErrMalformedHash, why)
	}
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 {
		return malformed("want $argon2id$v=19$m=M,t=T,p=P$salt$hash")
	}
	if parts[2] != "v=19" {
		return malformed("unsupported version, want v=19")
	}
	var p Params
	var err error
	if p.Memory, p.Time, p.Threads, err = parseArgon2Params(parts[3]); err != nil {
		return malformed(err.Error())
	}
	if p.Threads < 1 || p.Threads > maxThreads {
		return malformed("parallelism out of bounds")
	}
	if p.Time < 1 || p.Time > maxTime {
		return malformed("time cost out of bounds")
	}
	if p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory {
		return malformed("memory cost out of bounds")
	}
	// Length checks before decoding keep allocation proportional to what
	// we accept, not to what we are given.
	if b64.DecodedLen(len(parts[4])) < minParsedSaltLen || b64.DecodedLen(len(parts[4])) > maxSaltKey {
		return malformed("salt length out of bounds")
	}
	if b64.DecodedLen(len(parts[5])) < minKeyLen || b64.DecodedLen(len(parts[5])) > maxSaltKey {
		return malformed("hash length out of bounds")
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return malformed("salt is not unpadded standard base64")
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil {
		return malformed("hash is not unpadded standard base64")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return parsedHash{scheme: schemeArgon2id, params: p, salt: salt, key: key}, nil
}

// parseArgon2Params parses "m=M,t=T,p=P" in exactly that order, as the
// reference implementation writes it.
func parseArgon2Params(s string) (memory, time uint32, threads uint8, err error) {
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return 0, 0, 0, errors.New("want m=M,t=T,p=P")
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(fields[i], name+"=")
		if !ok {
			return 0, 0, 0, errors.New("want m=M,t=T,p=P")
		}
		// ParseUint rejects signs, spaces and overflow; bounds are checked
		// by the caller.
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("%s is not a 32-bit decimal number", name)
		}
		vals[i] = n
	}
	if vals[2] > 255 {
		return 0, 0, 0, errors.New("parallelism out of bounds")
	}
	return uint32(vals[0]), uint32(vals[1]), uint8(vals[2]), nil
}

// bcryptAlphabet is bcrypt's own base64 alphabet.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func parseBcrypt(encoded string) (parsedHash, error) {
	// $2b$10$ + 22 salt chars + 31 hash chars.
	if len(encoded) != 60 || encoded[6] != '$' {
		return parsedHash{}, fmt.Errorf("%w: bcrypt: want $2b$CC$ followed by 53 characters", ErrMalformedHash)
	}
	d1, d2 := encoded[4], encoded[5]
	cost := int(d1-'0')*10 + int(d2-'0')
	if d1 < '0' || d1 > '9' || d2 < '0' || d2 > '9' || cost < bcrypt.MinCost || cost > maxBcryptCost {
		return parsedHash{}, fmt.Errorf("%w: bcrypt: cost must be between %d and %d", ErrMalformedHash, bcrypt.MinCost, maxBcryptCost)
	}
	for i := 7; i < len(encoded); i++ {
		if !strings.ContainsRune(bcryptAlphabet, rune(encoded[i])) {
			return parsedHash{}, fmt.Errorf("%w: bcrypt: invalid character in salt or hash", ErrMalformedHash)
		}
	}
	return parsedHash{scheme: schemeBcrypt, bcryptCost: cost}, nil
}
