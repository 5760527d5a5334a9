package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/gatehouse-auth/gatehouse/internal/secret"
)

// devSecretFile is the name of the generated development secret inside the
// data directory.
const devSecretFile = "secret"

// loadedSecret is the master secret and where it came from.
type loadedSecret struct {
	current  []byte
	previous [][]byte
	// source says where the current secret came from, for the startup log
	// (never the secret itself).
	source string
}

// loadSecret finds the master secret: GATEHOUSE_SECRET, else
// GATEHOUSE_SECRET_FILE, else — in development only — a secret generated
// once into the data directory and reused. Production without a secret is
// refused: sessions and encrypted keys must survive restarts and be the
// same on every node.
func loadSecret(s *settings) (loadedSecret, error) {
	var (
		current []byte
		source  string
		err     error
	)
	switch {
	case s.secret != "":
		source = envPrefix + "SECRET"
		if current, err = secret.ParseSecret(s.secret); err != nil {
			return loadedSecret{}, fmt.Errorf("%s: %w", setting("secret"), err)
		}
	case s.secretFile != "":
		source = "secret file " + s.secretFile
		if current, err = readSecretFile(s.secretFile, !s.development); err != nil {
			return loadedSecret{}, err
		}
	case !s.development:
		return loadedSecret{}, fmt.Errorf("production mode (the public URL %s is https) needs a master secret, and none is set: "+
			"set %sSECRET to 64 hex characters (generate them with `openssl rand -hex 32`) or %sSECRET_FILE to a file holding them. "+
			"Development mode generates one for you; production refuses to, because every node must share the secret and it must survive restarts",
			s.core.PublicURL, envPrefix, envPrefix)
	default:
		path := filepath.Join(s.dataDir, devSecretFile)
		source = "development secret " + path
		if current, err = devSecret(s.dataDir); err != nil {
			return loadedSecret{}, err
		}
	}
	var previous [][]byte
	for i, p := range s.secretPrevious {
		b, err := secret.ParseSecret(p)
		if err != nil {
			return loadedSecret{}, fmt.Errorf("%s, item %d: %w", setting("secret_previous"), i+1, err)
		}
		previous = append(previous, b)
	}
	// Check them now so a bad secret is reported with its setting's name.
	if _, err := secret.NewKeyring(current, previous...); err != nil {
		return loadedSecret{}, err
	}
	return loadedSecret{current: current, previous: previous, source: source}, nil
}

// readSecretFile reads a secret file. strict (production) refuses a file
// that group or others may read: the secret protects every session.
func readSecretFile(path string, strict bool) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", setting("secret_file"), err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", setting("secret_file"), err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %s is not a regular file", setting("secret_file"), path)
	}
	if strict && runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: %s has mode %04o, so other users on this machine can read the master secret; run `chmod 600 %s` (in Kubernetes, mount the Secret with defaultMode: 0400)", setting("secret_file"), path, fi.Mode().Perm(), path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", setting("secret_file"), err)
	}
	key, err := secret.ParseSecret(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", setting("secret_file"), path, err)
	}
	return key, nil
}

// devSecret returns the development secret in dataDir/secret, generating
// it (32 random bytes, hex) with mode 0600 in a 0700 directory on first use.
func devSecret(dataDir string) ([]byte, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the data directory: %w", err)
	}
	path := filepath.Join(dataDir, devSecretFile)
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("generating the development secret: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, fs.ErrExist):
		key, err := readSecretFile(path, false)
		if err != nil {
			return nil, fmt.Errorf("the development secret %s is unreadable (delete it to generate a new one; existing sessions will end): %w", path, err)
		}
		return key, nil
	case err != nil:
		return nil, fmt.Errorf("creating the development secret: %w", err)
	}
	_, werr := f.WriteString(hex.EncodeToString(raw) + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("writing the development secret: %w", werr)
	}
	return raw, nil
}
