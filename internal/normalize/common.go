package normalize

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"sync"
)

// commonPasswordsGz is the common-password list: lower-case, one per line,
// gzip-compressed. Its source, licence and the exact filter that produced it
// are in data/README.md.
//
//go:embed data/common-passwords.txt.gz
var commonPasswordsGz []byte

// commonPasswords decompresses the list on first use (about 50,000 entries)
// and returns the same read-only set afterwards. The set must never be
// modified; it is shared by all goroutines.
var commonPasswords = sync.OnceValues(func() (map[string]struct{}, error) {
	zr, err := gzip.NewReader(bytes.NewReader(commonPasswordsGz))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCommonList, err)
	}
	defer zr.Close()
	set := make(map[string]struct{}, 50000)
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			set[line] = struct{}{}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", errCommonList, err)
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("%w: it is empty", errCommonList)
	}
	return set, nil
})
