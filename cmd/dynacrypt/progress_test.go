package main

import (
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
