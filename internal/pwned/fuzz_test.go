package pwned

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// rangeLineRE is the reference grammar of one range line, written
// independently of parseRangeBody.
var rangeLineRE = regexp.MustCompile(`^([0-9A-Fa-f]{35}):([0-9]{1,10})$`)

// referenceRangeBody is a deliberately plain second implementation of the
// grammar parseRangeBody documents: ok reports whether body is well formed,
// n the largest positive count of a line whose suffix equals suffix.
func referenceRangeBody(body []byte, suffix string) (n int, ok bool) {
	s := string(body)
	if s == "" {
		return 0, false
	}
	s = strings.TrimSuffix(s, "\n")
	for _, line := range strings.Split(s, "\n") {
		m := rangeLineRE.FindStringSubmatch(strings.TrimSuffix(line, "\r"))
		if m == nil {
			return 0, false
		}
		c, err := strconv.ParseInt(m[2], 10, 0)
		if err != nil {
			return 0, false
		}
		if strings.EqualFold(m[1], suffix) && int(c) > n {
			n = int(c)
		}
	}
	return n, true
}

func FuzzRangeBody(f *testing.F) {
	p := hashOf("password")[5:]
	for _, s := range []string{
		p + ":10434004",
		p + ":3\r\n",
		"0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n" + p + ":2\r\n00D4F6E8FA6EECAD2A3AA415EEC418D38EC:0",
		strings.ToLower(p) + ":1\n" + p + ":0\n",
		p + ":0",
		"",
		"\n",
		"\r\n",
		p + ":",
		p + ":-1",
		p + ":+1",
		p + ": 1",
		p + ":99999999999",
		p + ":5\n\n",
		p + ":5\r\r\n",
		p + "0:5",
		"<html>error</html>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		// Look for the suffix of the first line when there is one, so that
		// matches are exercised, and for "password" otherwise.
		suffix := p
		if len(body) >= 35 {
			suffix = strings.ToUpper(string(body[:35]))
		}
		got, err := parseRangeBody(body, []byte(suffix))
		want, ok := referenceRangeBody(body, suffix)
		switch {
		case err == nil && !ok:
			t.Fatalf("parseRangeBody(%q) accepted a malformed body (count %d)", body, got)
		case err != nil && ok:
			t.Fatalf("parseRangeBody(%q) refused a well-formed body: %v", body, err)
		case err != nil && got != 0:
			t.Fatalf("parseRangeBody(%q) returned %d with an error", body, got)
		case err == nil && got != want:
			t.Fatalf("parseRangeBody(%q) = %d, want %d", body, got, want)
		}
		if err != nil && len(body) >= 8 && bytes.Contains([]byte(err.Error()), body) {
			t.Fatalf("error %q echoes the body", err)
		}
	})
}

// FuzzCorpus opens arbitrary files as corpora: OpenCorpus and lookups must
// never panic or loop, and in a file that opens, every line that parses and
// is in order with its neighbours is found.
func FuzzCorpus(f *testing.F) {
	a, b := hashOf("password"), hashOf("123456")
	for _, s := range []string{
		a + "\n" + b + "\n",
		a + ":3\r\n" + b + ":1",
		b + "\n" + a + "\n",
		a + "\n\n",
		"\n",
		"",
		strings.Repeat("0", 40) + ":1\n" + a + "\r\n" + strings.Repeat("f", 40),
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "corpus.txt")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := OpenCorpus(path)
		if err != nil {
			return
		}
		defer c.Close()
		var targets [][hashLen]byte
		var sorted = true
		var prev []byte
		lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
		for _, line := range lines {
			var e entry
			if parseCorpusLine(line, &e) != nil || len(line) > maxLine {
				sorted = false
				break
			}
			if prev != nil && bytes.Compare(prev, e.hash[:]) >= 0 {
				sorted = false
			}
			prev = bytes.Clone(e.hash[:])
			targets = append(targets, e.hash)
		}
		targets = append(targets, sha1Hex("password"), [hashLen]byte{})
		for i, target := range targets {
			n, err := c.lookup(t.Context(), target)
			if sorted && i < len(lines) && (err != nil || n < 1) {
				t.Fatalf("well-formed sorted file %q: lookup %s = %d, %v", data, target[:], n, err)
			}
		}
	})
}
