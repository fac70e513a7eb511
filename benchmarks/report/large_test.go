package main

import (
	"fmt"
	"strings"
	"testing"
)

func TestLargeItemSection(t *testing.T) {
	in := `BenchmarkLargeItem/10KB 	 100	 30000 ns/op	 4000 gcm-ns/op	 16000 store-ns/op	 24000 B/op	 36 allocs/op
BenchmarkLargeItem/390KB 	 100	 900000 ns/op	 170000 gcm-ns/op	 400000 store-ns/op	 805000 B/op	 36 allocs/op
BenchmarkLargeItem/10KB 	 100	 60000 ns/op	 8000 gcm-ns/op	 40000 store-ns/op	 24000 B/op	 36 allocs/op
BenchmarkLargeItem/390KB 	 100	 900000 ns/op	 200000 gcm-ns/op	 420000 store-ns/op	 805000 B/op	 36 allocs/op
`
	res, _, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	writeLargeItems(func(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }, res)
	got := out.String()
	for _, s := range []string{
		"| 10 KB | 28000 | 6000 | **4.50** (rounds: 4.00 to 5.00) | 24000 | 2.34 |",
		"| 390 KB | 410000 | 185000 | **2.23** (rounds: 2.10 to 2.35) | 805000 | 2.02 |",
	} {
		if !strings.Contains(got, s) {
			t.Errorf("large items section lacks %q:\n%s", s, got)
		}
	}
	if strings.Index(got, "| 10 KB") > strings.Index(got, "| 390 KB") {
		t.Errorf("sizes out of order:\n%s", got)
	}
	out.Reset()
	writeLargeItems(func(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }, results{})
	if out.Len() != 0 {
		t.Errorf("a run without BenchmarkLargeItem wrote %q", out.String())
	}
}
