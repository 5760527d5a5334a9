package pwned

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// corpusLine is one line to write: an upper-case hash, its count (0: write
// no count) and its terminator.
type corpusLine struct {
	hash  string
	count int
	eol   string
}

func (l corpusLine) String() string {
	if l.count == 0 {
		return l.hash + l.eol
	}
	return l.hash + ":" + strconv.Itoa(l.count) + l.eol
}

// want is what a lookup of l.hash must return.
func (l corpusLine) want() int { return max(l.count, 1) }

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pwned-passwords-sha1-ordered-by-hash.txt")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeCorpus(t *testing.T, lines []corpusLine) string {
	t.Helper()
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.String())
	}
	return writeFile(t, b.String())
}

func randomHash(rng *rand.Rand) string {
	const digits = "0123456789ABCDEF"
	var b [hashLen]byte
	for i := range b {
		b[i] = digits[rng.IntN(16)]
	}
	return string(b[:])
}

// neighbours returns the hashes just below and just above h (when they
// exist), the closest possible misses for a binary search.
func neighbours(h string) []string {
	var out []string
	for _, delta := range []int{-1, 1} {
		b := []byte(h)
		i := len(b) - 1
		for ; i >= 0; i-- {
			v, _ := strconv.ParseUint(string(b[i]), 16, 8)
			nv := int(v) + delta
			if nv >= 0 && nv < 16 {
				b[i] = strings.ToUpper(strconv.FormatUint(uint64(nv), 16))[0]
				break
			}
			b[i] = "F0"[(delta+1)/2] // borrow or carry
		}
		if i >= 0 {
			out = append(out, string(b))
		}
	}
	return out
}

// knownPasswords go into the generated corpus; 0 means a line without count.
var knownPasswords = map[string]int{
	"password":                     10434004,
	"123456":                       46264500,
	"gatehouse":                    3,
	"correct horse battery staple": 0,
	"pässwörd":                     42,
}

// generateCorpus makes n random lines plus knownPasswords and the extreme
// hashes, sorted, with and without counts of every length, CRLF and LF.
func generateCorpus(rng *rand.Rand, n int) []corpusLine {
	seen := map[string]bool{}
	var lines []corpusLine
	add := func(h string, count int) {
		if seen[h] {
			return
		}
		seen[h] = true
		eol := "\n"
		if rng.IntN(2) == 0 {
			eol = "\r\n"
		}
		lines = append(lines, corpusLine{hash: h, count: count, eol: eol})
	}
	for pw, count := range knownPasswords {
		add(hashOf(pw), count)
	}
	add(strings.Repeat("0", hashLen), 5)
	add(strings.Repeat("F", hashLen), 0)
	for len(lines) < n {
		count := 0
		if rng.IntN(2) == 0 {
			digits := 1 + rng.IntN(maxCountDigits)
			count = 1 + rng.IntN(9)
			for range digits - 1 {
				count = count*10 + rng.IntN(10)
			}
		}
		add(randomHash(rng), count)
	}
	slices.SortFunc(lines, func(a, b corpusLine) int { return strings.Compare(a.hash, b.hash) })
	return lines
}

func openCorpus(t *testing.T, path string) *Corpus {
	t.Helper()
	c, err := OpenCorpus(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func lookupHex(t *testing.T, c *Corpus, h string) int {
	t.Helper()
	var target [hashLen]byte
	copy(target[:], h)
	n, err := c.lookup(t.Context(), target)
	if err != nil {
		t.Fatalf("lookup %s: %v", h, err)
	}
	return n
}

func TestCorpusLookup(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	lines := generateCorpus(rng, 10000)
	c := openCorpus(t, writeCorpus(t, lines))

	present := map[string]int{}
	for _, l := range lines {
		present[l.hash] = l.want()
	}
	for _, l := range lines {
		if got := lookupHex(t, c, l.hash); got != l.want() {
			t.Errorf("lookup %s = %d, want %d", l.hash, got, l.want())
		}
	}
	if first, last := lines[0], lines[len(lines)-1]; lookupHex(t, c, first.hash) != 5 || lookupHex(t, c, last.hash) != 1 {
		t.Errorf("first or last entry not found")
	}
	for i, l := range lines {
		if i%10 != 0 && i > 3 && i < len(lines)-3 {
			continue
		}
		for _, h := range neighbours(l.hash) {
			if got, want := lookupHex(t, c, h), present[h]; got != want {
				t.Errorf("lookup neighbour %s = %d, want %d", h, got, want)
			}
		}
	}
	for range 2000 {
		h := randomHash(rng)
		if got, want := lookupHex(t, c, h), present[h]; got != want {
			t.Errorf("lookup random %s = %d, want %d", h, got, want)
		}
	}

	for pw, count := range knownPasswords {
		got, err := c.Breached(t.Context(), pw)
		if err != nil {
			t.Fatalf("Breached(%q): %v", pw, err)
		}
		if want := max(count, 1); got != want {
			t.Errorf("Breached(%q) = %d, want %d", pw, got, want)
		}
	}
	for _, pw := range []string{"password1", "not in the corpus", ""} {
		if got, err := c.Breached(t.Context(), pw); err != nil || got != 0 {
			t.Errorf("Breached(%q) = %d, %v; want 0, nil", pw, got, err)
		}
	}
}

func TestCorpusLowerCase(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	lines := generateCorpus(rng, 500)
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(strings.ToLower(l.String()))
	}
	c := openCorpus(t, writeFile(t, b.String()))
	for _, l := range lines {
		if got := lookupHex(t, c, l.hash); got != l.want() {
			t.Fatalf("lookup %s = %d, want %d", l.hash, got, l.want())
		}
	}
	if got, err := c.Breached(t.Context(), "password"); err != nil || got != 10434004 {
		t.Errorf("Breached(password) = %d, %v", got, err)
	}
}

// TestCorpusSmallFiles covers the edges of the search: one or two lines,
// with and without a final terminator, every entry and every neighbour.
func TestCorpusSmallFiles(t *testing.T) {
	a, b, z := hashOf("123456"), hashOf("password"), strings.Repeat("F", hashLen) // b < a < z
	tests := []struct {
		name    string
		content string
		want    map[string]int
	}{
		{"one line, no terminator", a, map[string]int{a: 1}},
		{"one line LF", a + "\n", map[string]int{a: 1}},
		{"one line with count CRLF", a + ":9\r\n", map[string]int{a: 9}},
		{"one line with count, no terminator", a + ":9", map[string]int{a: 9}},
		{"one line CR only before EOF", a + ":9\r", map[string]int{a: 9}},
		{"two lines", b + ":2\n" + a + "\n", map[string]int{a: 1, b: 2}},
		{"two lines, mixed, no terminator", b + "\r\n" + a + ":1234567890", map[string]int{a: 1234567890, b: 1}},
		{"three lines ending in all-F", b + ":2\r\n" + a + "\n" + z + ":7", map[string]int{a: 1, b: 2, z: 7}},
		{"zero-padded count", a + ":0007\n", map[string]int{a: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := openCorpus(t, writeFile(t, tt.content))
			for h, want := range tt.want {
				if got := lookupHex(t, c, h); got != want {
					t.Errorf("lookup %s = %d, want %d", h, got, want)
				}
				for _, n := range neighbours(h) {
					if got := lookupHex(t, c, n); got != tt.want[n] {
						t.Errorf("lookup neighbour %s = %d, want %d", n, got, tt.want[n])
					}
				}
			}
			for _, h := range []string{strings.Repeat("0", hashLen), hashOf("x")} {
				if got := lookupHex(t, c, h); got != tt.want[h] {
					t.Errorf("lookup %s = %d, want %d", h, got, tt.want[h])
				}
			}
		})
	}
}

func TestOpenCorpusRefuses(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	sorted := generateCorpus(rng, 10000)
	shuffled := slices.Clone(sorted)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	// Sorted at the head, shuffled after it: only the sample points see it.
	tailShuffled := slices.Clone(sorted)
	rng.Shuffle(len(tailShuffled)-headLines*4, func(i, j int) {
		tailShuffled[headLines*4+i], tailShuffled[headLines*4+j] = tailShuffled[headLines*4+j], tailShuffled[headLines*4+i]
	})
	headSwapped := slices.Clone(sorted)
	headSwapped[0], headSwapped[1] = headSwapped[1], headSwapped[0]
	byCount := slices.Clone(sorted)
	slices.SortStableFunc(byCount, func(a, b corpusLine) int { return b.count - a.count })
	join := func(lines []corpusLine) string {
		var b strings.Builder
		for _, l := range lines {
			b.WriteString(l.String())
		}
		return b.String()
	}
	a, b := hashOf("password"), hashOf("123456") // a < b
	tests := []struct {
		name, content, wantErr string
	}{
		{"empty", "", "is empty"},
		{"only a newline", "\n", "empty line"},
		{"plain text", "password\n123456\n", "40 hex digits"},
		{"NTLM file", "8846F7EAEE8FB117AD06BDD830B7586C:100\n", "NTLM"},
		{"SHA-256", strings.Repeat("A", 64) + "\n", "40 hex digits"},
		{"space before count", a + " :3\n", "40 hex digits"},
		{"count zero", a + ":0\n", "COUNT"},
		{"negative count", a + ":-3\n", "COUNT"},
		{"count too long", a + ":" + strings.Repeat("9", 30) + "\n", "longer than"},
		{"count 11 digits", a + ":12345678901\n", "COUNT"},
		{"blank line at the end", a + "\n" + b + "\n\n", "empty line"},
		{"blank line in the head", a + "\n\n" + b + "\n", "empty line"},
		{"two lines in the wrong order", b + "\n" + a + "\n", "not sorted"},
		{"duplicate", a + ":1\n" + a + ":2\n", "repeats"},
		{"shuffled", join(shuffled), "not sorted"},
		{"first two swapped", join(headSwapped), "not sorted"},
		{"shuffled after the head", join(tailShuffled), "not sorted"},
		{"ordered by count", join(byCount), "not sorted"},
		{"last line malformed", join(sorted) + "zz\n", "40 hex digits"},
		{"last line too long", join(sorted) + strings.Repeat("F", 200), "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.content)
			c, err := OpenCorpus(path)
			if err == nil {
				c.Close()
				t.Fatalf("OpenCorpus succeeded, want an error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
				t.Fatalf("OpenCorpus error %q does not contain %q and the path", err, tt.wantErr)
			}
			t.Log(err)
		})
	}

	t.Run("directory", func(t *testing.T) {
		if _, err := OpenCorpus(t.TempDir()); err == nil || !strings.Contains(err.Error(), "regular file") {
			t.Fatalf("OpenCorpus(dir) error = %v", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		if _, err := OpenCorpus(filepath.Join(t.TempDir(), "nope.txt")); err == nil || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("OpenCorpus(missing) error = %v", err)
		}
	})
}

// TestCorpusMalformedMidFile shows that a lookup which meets a malformed
// line fails rather than answering "not found".
func TestCorpusMalformedMidFile(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	lines := generateCorpus(rng, 2000)
	var b strings.Builder
	mid := len(lines) / 2
	for i, l := range lines {
		if i == mid {
			b.WriteString("this line is not a hash\n")
			continue
		}
		b.WriteString(l.String())
	}
	c := openCorpus(t, writeFile(t, b.String()))
	var target [hashLen]byte
	copy(target[:], lines[mid].hash)
	_, err := c.lookup(t.Context(), target)
	if err == nil || !strings.Contains(err.Error(), "40 hex digits") {
		t.Fatalf("lookup across a malformed line: %v", err)
	}
}

// TestCorpusDamagedLookupHidesOffset: a lookup that fails says the file is
// damaged but not where, since the offset would hint at the hash.
func TestCorpusDamagedLookupHidesOffset(t *testing.T) {
	lines := generateCorpus(rand.New(rand.NewPCG(13, 14)), 2000)
	target := hashOf("password")
	var b strings.Builder
	for _, l := range lines {
		if l.hash == target {
			b.WriteString(target[:20] + "\n") // truncated, as by a bad copy
			continue
		}
		b.WriteString(l.String())
	}
	c := openCorpus(t, writeFile(t, b.String()))
	_, err := c.Breached(t.Context(), "password")
	if err == nil || !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), "40 hex digits") {
		t.Fatalf("Breached over a damaged line: %v", err)
	}
	if strings.Contains(err.Error(), "byte") || strings.Contains(err.Error(), target[:5]) {
		t.Errorf("error %q reveals where the hash sorts", err)
	}
}

func TestCorpusConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	lines := generateCorpus(rng, 10000)
	c := openCorpus(t, writeCorpus(t, lines))
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := g; i < len(lines); i += 16 {
				var target [hashLen]byte
				copy(target[:], lines[i].hash)
				got, err := c.lookup(t.Context(), target)
				if err != nil || got != lines[i].want() {
					t.Errorf("lookup %s = %d, %v; want %d", lines[i].hash, got, err, lines[i].want())
					return
				}
			}
			for pw := range knownPasswords {
				if _, err := c.Breached(t.Context(), pw); err != nil {
					t.Errorf("Breached: %v", err)
				}
			}
		})
	}
	wg.Wait()
}

func TestCorpusContextAndClose(t *testing.T) {
	c, err := OpenCorpus(writeCorpus(t, generateCorpus(rand.New(rand.NewPCG(11, 12)), 100)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.Breached(ctx, "password"); err == nil {
		t.Error("Breached with a cancelled context succeeded")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = c.Breached(t.Context(), "password")
	if err == nil {
		t.Fatal("Breached after Close succeeded")
	}
	if h := hashOf("password"); strings.Contains(err.Error(), h[:5]) || strings.Contains(err.Error(), "password\"") {
		t.Errorf("error %q reveals the password's hash", err)
	}
}
