package pwned

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// lineFormat ends every error about a line's shape.
const lineFormat = "want HASH or HASH:COUNT, HASH being the 40 hex digits of a SHA-1"

const (
	// maxLine is the longest valid line without its LF: HASH:COUNT\r.
	maxLine = hashLen + 1 + maxCountDigits + 1
	// probeSize is what one probe reads: enough to skip the rest of a line
	// and read the whole next one.
	probeSize = 128
	// headLines and samplePoints set how much of the file OpenCorpus checks.
	headLines    = 8
	samplePoints = 16
)

// A probe must hold the rest of one maximal line and all of the next.
var _ [probeSize - 2*(maxLine+1)]struct{}

// Corpus answers Breached from a local file of SHA-1 hashes sorted
// ascending, one per line, "HASH" or "HASH:COUNT" (the downloadable Pwned
// Passwords file "ordered by hash"; lines may end in CRLF, hex may be of
// either case). Each lookup is a binary search over byte offsets with a
// few dozen small ReadAt calls, so the file is never loaded whole and the
// process's memory does not grow with it.
//
// A Corpus is safe for concurrent use. The file must not change while it is
// open; lookups after Close fail.
type Corpus struct {
	f    *os.File
	path string
	size int64
}

// tooLong describes an over-long line.
var tooLong = fmt.Sprintf("longer than %d bytes; %s", maxLine, lineFormat)

// offsetError is damage found at a byte offset of the file. The offset
// helps an operator at OpenCorpus; in a lookup it would reveal roughly where
// the password's hash sorts, so Breached reports withoutOffset.
type offsetError struct {
	off int64
	msg string
	err error // optional cause
}

func (e *offsetError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("at byte %d: %s: %v", e.off, e.msg, e.err)
	}
	return fmt.Sprintf("at byte %d: %s", e.off, e.msg)
}

func (e *offsetError) Unwrap() error { return e.err }

func (e *offsetError) withoutOffset() error {
	if e.err != nil {
		return fmt.Errorf("%s: %w", e.msg, e.err)
	}
	return errors.New(e.msg)
}

// entry is one parsed line of a corpus file.
type entry struct {
	off   int64 // where the line starts
	next  int64 // where the following line starts (or the file size)
	hash  [hashLen]byte
	count int
}

// OpenCorpus opens the corpus file at path and checks that it looks like one:
// the first lines and the last are well formed, and the file is sorted
// ascending without duplicates at the start and at a few evenly spaced sample
// points. The error says what is wrong (empty file, a malformed line and its
// byte offset, the wrong hash type, the wrong order). The sampling catches a
// wrong or shuffled file, not a single misplaced line in the middle; a lookup
// that meets a malformed line fails, but one near a misplaced line may
// answer "not found".
func OpenCorpus(path string) (*Corpus, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pwned: opening corpus: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("pwned: opening corpus: %w", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("pwned: corpus %s is not a regular file", path)
	}
	if fi.Size() == 0 {
		f.Close()
		return nil, fmt.Errorf("pwned: corpus %s is empty", path)
	}
	c := &Corpus{f: f, path: path, size: fi.Size()}
	if err := c.check(); err != nil {
		f.Close()
		return nil, fmt.Errorf("pwned: corpus %s: %w", path, err)
	}
	return c, nil
}

// Breached returns the count on password's line: the file's COUNT, or 1 when
// the line has none; 0 when the hash is not in the file. It fails when the
// context is done, the file cannot be read (after Close, for one) or the
// search meets a malformed line. Errors name the file and the problem but
// never the password, its hash, or the byte offset where the search failed,
// which would tell roughly where the hash sorts.
func (c *Corpus) Breached(ctx context.Context, password string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("pwned: corpus lookup: %w", err)
	}
	n, err := c.lookup(ctx, sha1Hex(password))
	if oe, ok := errors.AsType[*offsetError](err); ok {
		// Where the search failed hints at where the hash sorts: keep the
		// offset out of an error that will be logged.
		return 0, fmt.Errorf("pwned: corpus %s is damaged (OpenCorpus checks only samples): %w", c.path, oe.withoutOffset())
	}
	if err != nil {
		return 0, fmt.Errorf("pwned: corpus %s: %w", c.path, err)
	}
	return n, nil
}

// Close closes the file. Lookups still running may fail.
func (c *Corpus) Close() error {
	return c.f.Close()
}

// lookup binary-searches for target, an upper-case hex SHA-1.
//
// With f(p) the key of the first line starting at or after byte p, f is
// non-decreasing in p because the file is sorted; the search finds the
// smallest p with f(p) >= target and checks that line.
func (c *Corpus) lookup(ctx context.Context, target [hashLen]byte) (int, error) {
	lo, hi := int64(0), c.size
	for lo < hi {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		mid := lo + (hi-lo)/2
		e, ok, err := c.lineAfter(mid)
		if err != nil {
			return 0, err
		}
		if !ok {
			hi = mid
			continue
		}
		switch cmp := bytes.Compare(e.hash[:], target[:]); {
		case cmp == 0:
			return e.count, nil
		case cmp > 0:
			hi = mid
		default:
			// Every p up to e.next finds this line or an earlier one.
			lo = e.next
		}
	}
	e, ok, err := c.lineAfter(lo)
	if err != nil || !ok || e.hash != target {
		return 0, err
	}
	return e.count, nil
}

// lineAfter reads and parses the first line that starts at or after off
// (a line starts at 0 or just after an LF). ok is false when there is none.
func (c *Corpus) lineAfter(off int64) (e entry, ok bool, err error) {
	base := off
	if off > 0 {
		base = off - 1 // so that a line starting exactly at off is seen
	}
	if base >= c.size {
		return entry{}, false, nil
	}
	var buf [probeSize]byte
	n, rerr := c.f.ReadAt(buf[:], base)
	if rerr != nil && !errors.Is(rerr, io.EOF) {
		return entry{}, false, fmt.Errorf("reading the corpus: %w", rerr)
	}
	if rest := c.size - base; int64(n) > rest {
		n = int(rest) // the file grew; stay within what was checked
	}
	b := buf[:n]
	eof := base+int64(n) >= c.size || rerr != nil
	start := base
	if off > 0 {
		i := bytes.IndexByte(b, '\n')
		switch {
		case i < 0 && eof && len(b) <= maxLine:
			return entry{}, false, nil // off is inside the last line
		case i < 0 || i > maxLine:
			return entry{}, false, &offsetError{off, "a line near this offset is " + tooLong, nil}
		}
		b, start = b[i+1:], base+int64(i)+1
	}
	if len(b) == 0 {
		if !eof {
			return entry{}, false, &offsetError{start, "short read", nil}
		}
		return entry{}, false, nil
	}
	line := b
	next := start + int64(len(b))
	if j := bytes.IndexByte(b, '\n'); j >= 0 {
		line, next = b[:j], start+int64(j)+1
	} else if !eof {
		return entry{}, false, &offsetError{start, "line " + tooLong, nil}
	}
	if len(line) > maxLine {
		return entry{}, false, &offsetError{start, "line " + tooLong, nil}
	}
	e = entry{off: start, next: next}
	if err := parseCorpusLine(line, &e); err != nil {
		return entry{}, false, &offsetError{start, "malformed line", err}
	}
	return e, true, nil
}

// parseCorpusLine parses HASH or HASH:COUNT, with an optional trailing CR,
// into e.hash (upper-cased) and e.count (1 when absent; 0 is refused).
func parseCorpusLine(line []byte, e *entry) error {
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) == 0 {
		return errors.New("empty line; " + lineFormat)
	}
	h := 0
	for h < len(line) && isHex(line[h]) {
		h++
	}
	if h != hashLen {
		if h == 32 && (len(line) == 32 || line[32] == ':') {
			return errors.New("32 hex digits: this looks like the NTLM file; use the SHA-1 file ordered by hash")
		}
		return errors.New(lineFormat)
	}
	for i, ch := range line[:hashLen] {
		e.hash[i] = upperHex(ch)
	}
	if len(line) == hashLen {
		e.count = 1
		return nil
	}
	if line[hashLen] != ':' {
		return errors.New(lineFormat)
	}
	n, ok := parseCount(line[hashLen+1:])
	if !ok || n == 0 {
		return fmt.Errorf("COUNT is not a positive decimal number of at most %d digits", maxCountDigits)
	}
	e.count = n
	return nil
}

// check looks at the head of the file, samplePoints lines spread through it
// (each with its successor) and the last line, and requires every one to be
// well formed and all of them to be in strictly ascending order.
func (c *Corpus) check() error {
	var prev entry
	havePrev := false
	// after records that e comes after prev in the file and requires its
	// hash to be greater.
	after := func(e entry) error {
		if havePrev && e.off <= prev.off {
			return nil // already seen, or before the furthest line seen
		}
		if havePrev {
			switch bytes.Compare(prev.hash[:], e.hash[:]) {
			case 0:
				return fmt.Errorf("the hash at byte %d repeats the one at byte %d; the file must hold each hash once, sorted ascending", e.off, prev.off)
			case 1:
				return fmt.Errorf("the hash at byte %d sorts before the one at byte %d: the file is not sorted ascending by hash (use the file ordered by hash, not by prevalence)", e.off, prev.off)
			}
		}
		prev, havePrev = e, true
		return nil
	}
	off := int64(0)
	for range headLines {
		e, ok, err := c.lineAfter(off)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if err := after(e); err != nil {
			return err
		}
		off = e.next
	}
	for k := int64(1); k <= samplePoints; k++ {
		p := c.size / (samplePoints + 1) * k
		e, ok, err := c.lineAfter(p)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := after(e); err != nil {
			return err
		}
		e, ok, err = c.lineAfter(e.next)
		if err != nil {
			return err
		}
		if ok {
			if err := after(e); err != nil {
				return err
			}
		}
	}
	last, err := c.lastLine()
	if err != nil {
		return err
	}
	return after(last)
}

// lastLine reads and parses the file's last line (which may or may not end in
// a line terminator).
func (c *Corpus) lastLine() (entry, error) {
	base := max(0, c.size-probeSize)
	var buf [probeSize]byte
	n, err := c.f.ReadAt(buf[:], base)
	if err != nil && !errors.Is(err, io.EOF) {
		return entry{}, fmt.Errorf("reading the corpus: %w", err)
	}
	b := buf[:min(int64(n), c.size-base)]
	if len(b) == 0 {
		return entry{}, fmt.Errorf("short read at byte %d", base)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	start := int64(0)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		start = base + int64(i) + 1
	} else if base > 0 {
		return entry{}, fmt.Errorf("last line is longer than %d bytes; %s", maxLine, lineFormat)
	}
	e, ok, err := c.lineAfter(start)
	if err != nil {
		return entry{}, err
	}
	if !ok {
		return entry{}, fmt.Errorf("no line at byte %d", start)
	}
	return e, nil
}
