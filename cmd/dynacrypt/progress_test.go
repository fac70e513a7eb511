package main

import (
	"strings"
	"testing"

	"github.com/dynacrypt/dynacrypt"
)

func TestBar(t *testing.T) {
	p := dynacrypt.ReencryptProgress{Scanned: 50, Rewritten: 40, Skipped: 9, Failed: 1}
	for _, tc := range []struct {
		total int64
		want  string
	}{
		{0, "50 scanned, 40 rewritten, 9 skipped, 1 failed"},
		{100, "[###############...............] of about 100: 50 scanned, 40 rewritten, 9 skipped, 1 failed"},
		{10, "[##############################] of about 10: 50 scanned, 40 rewritten, 9 skipped, 1 failed"},
	} {
		if got := bar(p, tc.total); got != tc.want {
			t.Errorf("bar(total %d) = %q, want %q", tc.total, got, tc.want)
		}
	}
}

// TestStatusLine: messages between redraws of the progress line get lines
// of their own; the line is ended once.
func TestStatusLine(t *testing.T) {
	var out strings.Builder
	l := &statusLine{w: &out}
	l.draw("1 scanned")
	l.draw("2 scanned")
	l.println("key {\"id\":\"a\"}: failed")
	l.println("key {\"id\":\"b\"}: failed")
	l.draw("3 scanned")
	l.end()
	l.end()
	want := "\r1 scanned\r2 scanned\nkey {\"id\":\"a\"}: failed\nkey {\"id\":\"b\"}: failed\n\r3 scanned\n"
	if out.String() != want {
		t.Errorf("status line wrote %q, want %q", out.String(), want)
	}
}
