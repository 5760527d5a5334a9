package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// idleWait is how long a started server idles before its memory is read.
const idleWait = 3 * time.Second

// measureStarts runs this binary's `serve` on the seeded database
// cmd.Starts times and measures the time from exec to ready and the idle
// resident memory.
func (b *bench) measureStarts(ctx context.Context) (*benchStartup, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this binary to start it: %w", err)
	}
	var ready []time.Duration
	var rss float64
	for range b.cmd.Starts {
		d, r, err := b.start(ctx, self)
		if err != nil {
			return nil, err
		}
		ready = append(ready, d)
		rss = max(rss, r)
	}
	slices.Sort(ready)
	st := &benchStartup{Starts: len(ready), Ready: millis(ready[len(ready)/2]), ReadyMax: millis(ready[len(ready)-1]), IdleRSSMiB: rss}
	st.ReadyMet = time.Duration(st.Ready) < readyTarget
	st.RSSMet = rss > 0 && rss < idleRSSTarget
	return st, nil
}

// start runs one server and returns how long it took to answer /readyz
// with 200 and its resident memory after idleWait (0 if unknown).
func (b *bench) start(ctx context.Context, self string) (time.Duration, float64, error) {
	env := append(slices.Clone(b.env), envPrefix+"ADDR=127.0.0.1:0", envPrefix+"LOG_LEVEL=warn")
	cmd := exec.CommandContext(ctx, self, "serve")
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, fmt.Errorf("starting %s serve: %w", self, err)
	}
	exited := make(chan error, 1)
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Listening on "); ok {
				addr <- a
			}
		}
		exited <- cmd.Wait()
	}()
	var base string
	select {
	case base = <-addr:
	case err := <-exited:
		exited <- err // for the deferred stop
		return 0, 0, fmt.Errorf("gatehouse serve exited before listening (%v): %s", err, bytes.TrimSpace(stderr.Bytes()))
	case <-time.After(30 * time.Second):
		return 0, 0, errors.New("gatehouse serve did not start listening within 30 s")
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: time.Second}
	defer client.CloseIdleConnections()
	var readyAfter time.Duration
	for {
		res, err := client.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				readyAfter = time.Since(began)
				break
			}
		}
		if time.Since(began) > 30*time.Second {
			return 0, 0, fmt.Errorf("gatehouse serve was not ready within 30 s: %s", bytes.TrimSpace(stderr.Bytes()))
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case <-time.After(idleWait):
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
	return readyAfter, residentMiB(cmd.Process.Pid), nil
}

// residentMiB reads a process's resident set size from /proc; 0 where
// there is no /proc.
func residentMiB(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err == nil {
				return kib / 1024
			}
		}
	}
	return 0
}
