package mailtext

import (
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	tests := []struct {
		locale string
		d      time.Duration
		want   string
	}{
		{"en", 30 * time.Minute, "30 minutes"},
		{"en", time.Minute, "1 minute"},
		{"en", time.Hour, "1 hour"},
		{"en", 24 * time.Hour, "24 hours"},
		{"en", 90 * time.Minute, "1 hour and 30 minutes"},
		{"en", 2*time.Hour + time.Minute, "2 hours and 1 minute"},
		{"en", 30*time.Minute + 59*time.Second, "30 minutes"}, // never promises more
		{"en", 45 * time.Second, "45 seconds"},
		{"en", time.Second, "1 second"},
		{"en", 0, "0 minutes"},
		{"en", -time.Hour, "0 minutes"},
		{"en", 36 * time.Hour, "36 hours"},
		{"en", 48 * time.Hour, "2 days"},
		{"en", 7 * 24 * time.Hour, "7 days"},
		{"en-GB", 24 * time.Hour, "24 hours"},

		{"fr", 30 * time.Minute, "30 minutes"},
		{"fr", time.Minute, "1 minute"},
		{"fr", time.Hour, "1 heure"},
		{"fr", 24 * time.Hour, "24 heures"},
		{"fr", 90 * time.Minute, "1 heure et 30 minutes"},
		{"fr", 45 * time.Second, "45 secondes"},
		{"fr", 0, "0 minute"}, // French singular for zero
		{"fr", 72 * time.Hour, "3 jours"},
		{"fr-CA", time.Hour, "1 heure"},

		{"de", 30 * time.Minute, "30 min"},
		{"de", 24 * time.Hour, "24 h"},
		{"de", 90 * time.Minute, "1 h 30 min"},
		{"de", 72 * time.Hour, "72 h"},
		{"de", 5 * time.Second, "5 s"},
	}
	for _, tt := range tests {
		if got := wordingFor(tt.locale).duration(tt.d); got != tt.want {
			t.Errorf("%s duration(%v) = %q, want %q", tt.locale, tt.d, got, tt.want)
		}
	}
}

func TestDatetime(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	tests := []struct {
		locale string
		t      time.Time
		want   string
	}{
		{"en", time.Date(2026, time.November, 27, 15, 4, 0, 0, time.UTC), "27 November 2026 at 15:04 UTC"},
		{"en", time.Date(2026, time.January, 1, 9, 5, 59, 0, time.UTC), "1 January 2026 at 09:05 UTC"},
		{"en", time.Date(2026, time.November, 27, 16, 4, 0, 0, paris), "27 November 2026 at 15:04 UTC"},
		{"fr", time.Date(2026, time.November, 27, 15, 4, 0, 0, time.UTC), "27 novembre 2026 à 15:04 UTC"},
		{"fr", time.Date(2026, time.December, 1, 0, 0, 0, 0, time.UTC), "1er décembre 2026 à 00:00 UTC"},
		{"fr", time.Date(2027, time.August, 15, 23, 59, 0, 0, time.UTC), "15 août 2027 à 23:59 UTC"},
		{"fr", time.Date(2027, time.February, 2, 8, 0, 0, 0, time.UTC), "2 février 2027 à 08:00 UTC"},
		{"fr", time.Date(2026, time.January, 1, 0, 30, 0, 0, paris), "31 décembre 2025 à 23:30 UTC"},
		{"de", time.Date(2026, time.November, 27, 15, 4, 0, 0, time.UTC), "2026-11-27 15:04 UTC"},
	}
	for _, tt := range tests {
		if got := wordingFor(tt.locale).datetime(tt.t); got != tt.want {
			t.Errorf("%s datetime(%v) = %q, want %q", tt.locale, tt.t, got, tt.want)
		}
	}
}

func TestMonthNames(t *testing.T) {
	for _, w := range []*wording{english, french} {
		seen := map[string]bool{}
		for _, m := range w.months {
			if m == "" || seen[m] {
				t.Errorf("month list %q has an empty or repeated name", w.months)
			}
			seen[m] = true
		}
	}
}

func TestTidyText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"\n\n  \nHello,  \r\n\r\n\r\n\nLink:\nhttps://x/y \t\n\n\n", "Hello,\n\nLink:\nhttps://x/y\n"},
		{"a\rb", "a\nb\n"},
		{" \n\t\n", ""},
		{"one", "one\n"},
	}
	for _, tt := range tests {
		if got := tidyText(tt.in); got != tt.want {
			t.Errorf("tidyText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
