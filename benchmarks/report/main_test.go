package main

import (
	"strings"
	"testing"
)

func TestRatiosArePairedByRound(t *testing.T) {
	// The machine's speed changes between rounds. Paired by round, the
	// median ratio is 1.10; the ratio of the medians (150 / 200) would be
	// 0.75.
	in := `BenchmarkPutGet/raw-sdk-2 10 100 cpu-ns/op
BenchmarkPutGet/dynacrypt-2 10 110 cpu-ns/op
BenchmarkPutGet/raw-sdk-2 10 200 cpu-ns/op
BenchmarkPutGet/dynacrypt-2 10 220 cpu-ns/op
BenchmarkPutGet/raw-sdk-2 10 300 cpu-ns/op
BenchmarkPutGet/dynacrypt-2 10 150 cpu-ns/op
`
	res, _, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if n := res.rounds(); n != 3 {
		t.Errorf("rounds = %d, want 3", n)
	}
	tests := []struct{ got, want string }{
		{res.ratio("BenchmarkPutGet/dynacrypt", "BenchmarkPutGet/raw-sdk", "cpu-ns/op"), "1.10"},
		{res.ratioSpread("BenchmarkPutGet/dynacrypt", "BenchmarkPutGet/raw-sdk", "cpu-ns/op"), "**1.10** (rounds: 0.50 to 1.10)"},
		{res.ratio("BenchmarkPutGet/dynacrypt", "BenchmarkMissing", "cpu-ns/op"), "-"},
		{res.cell("BenchmarkPutGet/raw-sdk", "cpu-ns/op"), "200"},
		{res.spread("BenchmarkPutGet/raw-sdk", "cpu-ns/op"), "100 to 300"},
	}
	for i, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%d: got %q, want %q", i, tc.got, tc.want)
		}
	}
}
