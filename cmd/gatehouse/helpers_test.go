package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
)

// testSecret is a valid master secret (64 hex digits).
const testSecret = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// testOptions make password hashing cheap in tests.
func testOptions() runOptions {
	return runOptions{authOptions: []gatehouse.Option{gatehouse.WithInsecurePasswordHashingForTests(), gatehouse.WithoutAbuseLimitsForTests()}}
}

// baseEnv returns an environment with a fresh data directory and quiet
// logs, plus extra "KEY=value" pairs.
func baseEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	return append([]string{"GATEHOUSE_DATA_DIR=" + t.TempDir(), "GATEHOUSE_LOG_LEVEL=warn"}, extra...)
}

// result is the outcome of one in-process run.
type result struct {
	stdout, stderr string
	err            error
}

// gh runs the binary in-process.
func gh(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	err := runWith(context.Background(), args, env, strings.NewReader(stdin), &out, &errOut, testOptions())
	return result{stdout: out.String(), stderr: errOut.String(), err: err}
}

// ok fails the test unless the run succeeded.
func (r result) ok(t *testing.T) result {
	t.Helper()
	if r.err != nil {
		t.Fatalf("run failed: %v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout, r.stderr)
	}
	return r
}

// fails fails the test unless the run failed with exit status code and
// stderr containing every want.
func (r result) fails(t *testing.T, code_ int, want ...string) result {
	t.Helper()
	if r.err == nil {
		t.Fatalf("run succeeded, want failure\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	if got := code(r.err); got != code_ {
		t.Errorf("exit status %d, want %d (err %v)", got, code_, r.err)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr does not contain %q:\n%s", w, r.stderr)
		}
	}
	return r
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var _ io.Writer = (*syncBuffer)(nil)
