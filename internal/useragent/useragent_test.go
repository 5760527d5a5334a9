package useragent

import "testing"

func TestDescribe(t *testing.T) {
	tests := []struct{ ua, want string }{
		{"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on Linux"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36 Edg/131.0", "Edge on Windows"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Version/18.0 Mobile/15E148 Safari/604.1", "Safari on iPhone"},
		{"Mozilla/5.0 (Linux; Android 15) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36", "Chrome on Android"},
		{"curl/8.11.0", "curl"},
		{"", "Unknown browser"},
		// Nothing of the header itself comes through.
		{"<script>alert(1)</script> Call +1 555 0100", "Unknown browser"},
		{"EvilBot Firefox/1 (Linux) visit evil.example", "Firefox on Linux"},
	}
	for _, tt := range tests {
		if got := Describe(tt.ua); got != tt.want {
			t.Errorf("Describe(%q) = %q, want %q", tt.ua, got, tt.want)
		}
	}
}
