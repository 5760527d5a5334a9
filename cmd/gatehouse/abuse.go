package main

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-auth/gatehouse"
)

// rateMap is the rate_limits setting: per endpoint, per_ip and/or
// per_identifier rates written "N/period" or "N/period burst B", or "off".
//
// YAML:
//
//	rate_limits:
//	  sign_in: {per_ip: 60/1m burst 20, per_identifier: 10/1m}
//	  sign_up: {per_ip: off}
//
// Environment (entries separated by ";"):
//
//	GATEHOUSE_RATE_LIMITS="sign_in.per_ip=60/1m burst 20;sign_up.per_ip=off"
type rateMap map[string]map[string]string

// UnmarshalText parses the environment form.
func (m *rateMap) UnmarshalText(b []byte) error {
	out := rateMap{}
	for part := range strings.SplitSeq(string(b), ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		endpoint, kind, ok2 := strings.Cut(strings.TrimSpace(k), ".")
		if !ok || !ok2 {
			return fmt.Errorf("%q is not endpoint.per_ip=N/period or endpoint.per_identifier=N/period (e.g. sign_in.per_ip=60/1m burst 20)", part)
		}
		if out[endpoint] == nil {
			out[endpoint] = map[string]string{}
		}
		out[endpoint][kind] = strings.TrimSpace(v)
	}
	*m = out
	return nil
}

// UnmarshalYAML accepts a mapping from endpoint to {per_ip, per_identifier}.
func (m *rateMap) UnmarshalYAML(n *yaml.Node) error {
	var raw map[string]map[string]string
	if err := n.Decode(&raw); err != nil {
		return fmt.Errorf("line %d: rate_limits maps endpoints to {per_ip: 60/1m, per_identifier: 10/1m}", n.Line)
	}
	*m = raw
	return nil
}

// parseRate reads "N/period", "N/period burst B" or "off".
func parseRate(s string) (gatehouse.Rate, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "off") {
		return gatehouse.Rate{}, nil
	}
	spec, burstPart, hasBurst := strings.Cut(s, " burst ")
	ns, ps, ok := strings.Cut(strings.TrimSpace(spec), "/")
	n, err := strconv.Atoi(strings.TrimSpace(ns))
	if !ok || err != nil || n < 1 {
		return gatehouse.Rate{}, fmt.Errorf("%q is not N/period like 30/1m (or off)", s)
	}
	p, err := time.ParseDuration(strings.TrimSpace(ps))
	if err != nil || p <= 0 {
		return gatehouse.Rate{}, fmt.Errorf("%q: the period must be a Go duration like 1m or 1h", s)
	}
	r := gatehouse.Rate{Limit: n, Period: p}
	if hasBurst {
		b, err := strconv.Atoi(strings.TrimSpace(burstPart))
		if err != nil || b < 1 {
			return gatehouse.Rate{}, fmt.Errorf("%q: burst must be a positive number", s)
		}
		r.Burst = b
	}
	return r, nil
}

// resolveAbuse reads the rate limits, the account throttle, the
// breached-password check and the audit retention.
func resolveAbuse(raw rawConfig, s *settings) error {
	defaults := gatehouse.DefaultRateLimits()
	if len(raw.RateLimits) > 0 {
		s.core.RateLimits = map[string]gatehouse.EndpointLimits{}
	}
	endpoints := make([]string, 0, len(raw.RateLimits))
	for e := range raw.RateLimits {
		endpoints = append(endpoints, e)
	}
	sort.Strings(endpoints)
	for _, endpoint := range endpoints {
		lim, ok := defaults[endpoint]
		if !ok {
			return fmt.Errorf("%s: unknown endpoint %q (known: %s)", setting("rate_limits"), endpoint, strings.Join(slices.Sorted(maps.Keys(defaults)), ", "))
		}
		for kind, v := range raw.RateLimits[endpoint] {
			r, err := parseRate(v)
			if err != nil {
				return fmt.Errorf("%s: %s.%s: %w", setting("rate_limits"), endpoint, kind, err)
			}
			switch kind {
			case "per_ip":
				lim.PerIP = r
			case "per_identifier":
				lim.PerIdentifier = r
			default:
				return fmt.Errorf("%s: %s.%s: use per_ip or per_identifier", setting("rate_limits"), endpoint, kind)
			}
		}
		s.core.RateLimits[endpoint] = lim
	}

	t := &s.core.Throttle
	for _, f := range []struct {
		key, v string
		dst    *int
	}{{"throttle_free", raw.ThrottleFree, &t.Free}, {"throttle_daily_budget", raw.ThrottleDailyBudget, &t.DailyBudget}} {
		if f.v == "" {
			continue
		}
		n, err := strconv.Atoi(f.v)
		if err != nil || n < 1 {
			return fmt.Errorf("%s: %q is not a positive number", setting(f.key), f.v)
		}
		*f.dst = n
	}
	var err error
	if t.BaseDelay, err = parseDuration("throttle_base_delay", raw.ThrottleBaseDelay); err != nil {
		return err
	}
	if t.MaxDelay, err = parseDuration("throttle_max_delay", raw.ThrottleMaxDelay); err != nil {
		return err
	}
	if s.core.AuditRetention, err = parseDuration("audit_retention", raw.AuditRetention); err != nil {
		return err
	}

	b := &s.core.BreachedPasswords
	switch strings.ToLower(raw.BreachedPasswords) {
	case "":
		b.Off = s.development && raw.BreachedPasswordsURL == "" && raw.BreachedPasswordsFile == ""
	case "on":
	case "off":
		b.Off = true
	default:
		return fmt.Errorf("%s: %q is not on or off", setting("breached_passwords"), raw.BreachedPasswords)
	}
	b.URL = raw.BreachedPasswordsURL
	if b.Timeout, err = parseDuration("breached_passwords_timeout", raw.BreachedTimeout); err != nil {
		return err
	}
	if s.breachedFile = raw.BreachedPasswordsFile; s.breachedFile != "" {
		if _, err := os.Stat(s.breachedFile); err != nil {
			return fmt.Errorf("%s: %w", setting("breached_passwords_file"), err)
		}
	}
	return nil
}
