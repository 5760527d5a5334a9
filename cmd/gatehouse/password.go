package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// maxPasswordInput bounds what is read for one password: the root package
// accepts at most 4096 bytes, and a little more lets it give its own error.
const maxPasswordInput = 4096 + 16

// readPassword gets a new account's password: from the first line of stdin
// with --password-stdin, otherwise from a prompt on the terminal with echo
// off, typed twice. There is deliberately no way to pass it as an argument:
// arguments show in the process list and in shell history.
func readPassword(ce *commandEnv, fromStdin bool) (string, error) {
	if fromStdin {
		return readPasswordLine(ce.stdin)
	}
	f, ok := ce.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("standard input is not a terminal, so Gatehouse cannot prompt for the password; " +
			"pass --password-stdin and write the password as the first line of standard input " +
			"(for example: printf '%s\\n' \"$PASSWORD\" | gatehouse users create --email … --password-stdin)")
	}
	fd := int(f.Fd())
	fmt.Fprint(ce.stderr, "Password: ")
	first, err := term.ReadPassword(fd)
	fmt.Fprintln(ce.stderr)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	fmt.Fprint(ce.stderr, "Repeat password: ")
	second, err := term.ReadPassword(fd)
	fmt.Fprintln(ce.stderr)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	if string(first) != string(second) {
		return "", errors.New("the two passwords differ; nothing was created")
	}
	if len(first) == 0 {
		return "", errors.New("the password is empty; nothing was created")
	}
	return string(first), nil
}

// readPasswordLine reads one line (without its line ending) from r.
func readPasswordLine(r io.Reader) (string, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, maxPasswordInput+2), maxPasswordInput+2)
	line, err := br.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	if !strings.HasSuffix(line, "\n") && len(line) > maxPasswordInput {
		return "", fmt.Errorf("the password on standard input is longer than %d bytes", maxPasswordInput)
	}
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", errors.New("--password-stdin: standard input is empty; write the password as its first line")
	}
	return line, nil
}
