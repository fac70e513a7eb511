package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
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

// fleetInput is what TestFleetKMSRequests prints, among the rest of a run.
const fleetInput = `=== RUN   TestFleetKMSRequests
    fleet_test.go:237: fleet-kms: cipher=kms-cipher writers=5 readers=5 puts-per-writer=100 gets-per-reader=1000 kms-requests=30 keystore-getitems=0
    fleet_test.go:237: fleet-kms: cipher=keystore writers=5 readers=5 puts-per-writer=100 gets-per-reader=1000 kms-requests=12 keystore-getitems=16
    fleet_test.go:237: fleet-kms: cipher=kms-cipher writers=100 readers=100 puts-per-writer=100 gets-per-reader=1000 kms-requests=10100 keystore-getitems=0
    fleet_test.go:237: fleet-kms: cipher=keystore writers=100 readers=100 puts-per-writer=100 gets-per-reader=1000 kms-requests=202 keystore-getitems=301
--- PASS: TestFleetKMSRequests (30.00s)
`

func TestFleetLines(t *testing.T) {
	_, lg, err := parse(strings.NewReader(fleetInput))
	if err != nil {
		t.Fatal(err)
	}
	if len(lg.fleet) != 4 {
		t.Fatalf("%d fleet points, want 4", len(lg.fleet))
	}
	want := fleetPoint{cipher: "keystore", writers: 100, readers: 100, putsPerWriter: 100, getsPerRead: 1000, kms: 202, keyStoreGets: 301}
	if got := lg.fleet[3]; got != want {
		t.Errorf("last point = %+v, want %+v", got, want)
	}
	if _, _, err := parse(strings.NewReader("fleet-kms: cipher=keystore writers=1\n")); err == nil {
		t.Error("a fleet line missing fields parsed")
	}

	sectionHas(t, "fleet section", func(p func(string, ...any)) { writeFleet(p, lg.fleet, "benchmarks/fleet.svg") },
		"| 10 | 5 | 5 | 30 | 30 | 12 | 20 | 16 |",
		"| 200 | 100 | 100 | 10,100 | 10,100 | 202 | 210 | 301 |",
		"Each writer puts 100 items, then each reader gets 1,000 items",
		"](benchmarks/fleet.svg)",
	)
}

func TestFleetChart(t *testing.T) {
	_, lg, err := parse(strings.NewReader(fleetInput))
	if err != nil {
		t.Fatal(err)
	}
	svg := fleetChart(lg.fleet)
	if !bytes.Equal(svg, fleetChart(lg.fleet)) {
		t.Error("the chart differs between two drawings of the same points")
	}
	// Well-formed XML, an svg root, and per cipher a line through its two
	// points.
	dec := xml.NewDecoder(bytes.NewReader(svg))
	var root string
	var lines [][]float64 // y of each point, per polyline
	var texts []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = el.Name.Local
			}
			if el.Name.Local == "polyline" {
				var ys []float64
				for _, a := range el.Attr {
					if a.Name.Local != "points" {
						continue
					}
					for _, pt := range strings.Fields(a.Value) {
						_, y, _ := strings.Cut(pt, ",")
						v, err := strconv.ParseFloat(y, 64)
						if err != nil {
							t.Fatal(err)
						}
						ys = append(ys, v)
					}
				}
				lines = append(lines, ys)
			}
		case xml.CharData:
			texts = append(texts, string(el))
		}
	}
	if root != "svg" {
		t.Errorf("root element %q, want svg", root)
	}
	if len(lines) != 2 || len(lines[0]) != 2 || len(lines[1]) != 2 {
		t.Fatalf("polylines %v, want 2 of 2 points", lines)
	}
	// SVG's y grows downwards. On a log scale from 10 to 100,000, 30 to
	// 10,100 (a factor 337) rises more than 12 to 202 (a factor 17), and
	// the KMSCipher line ends above the key store's.
	rise := func(ys []float64) float64 { return ys[0] - ys[1] }
	if rise(lines[0]) <= rise(lines[1]) || lines[0][1] >= lines[1][1] {
		t.Errorf("KMSCipher line %v, key store line %v: not as a log scale draws them", lines[0], lines[1])
	}
	if math.Abs(rise(lines[0])/rise(lines[1])-math.Log10(10100.0/30)/math.Log10(202.0/12)) > 0.01 {
		t.Errorf("rises %v and %v are not in the ratio of the logs of the counts", rise(lines[0]), rise(lines[1]))
	}
	all := strings.Join(texts, "|")
	for _, s := range []string{"100,000", "10,100", "202", "KMSCipher", "key store Cipher", "processes in the fleet"} {
		if !strings.Contains(all, s) {
			t.Errorf("chart lacks the text %q", s)
		}
	}
}

func TestKeyStoreBenchmarksArePrefixed(t *testing.T) {
	in := `pkg: github.com/dynacrypt/dynacrypt
BenchmarkItemRoundTrip 	 1000	 19000 ns/op
pkg: github.com/dynacrypt/dynacrypt/keystore
BenchmarkItemRoundTrip/aes 	 1000	 15000 ns/op
BenchmarkItemRoundTrip/keystore 	 1000	 15300 ns/op
pkg: github.com/dynacrypt/dynacrypt/benchmarks
BenchmarkPutGet/raw-sdk-2 10 100 cpu-ns/op
`
	res, _, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"BenchmarkItemRoundTrip", "keystore.BenchmarkItemRoundTrip/aes", "keystore.BenchmarkItemRoundTrip/keystore", "BenchmarkPutGet/raw-sdk"} {
		if _, ok := res[name]; !ok {
			t.Errorf("no results for %s: %v", name, res)
		}
	}
	sectionHas(t, "key store section", func(p func(string, ...any)) { writeKeyStoreCiphers(p, res) }, "| ItemRoundTrip | keystore | 15300 | - | - | 1.02 |")
}

func TestTenantsLines(t *testing.T) {
	in := `    tenants_test.go:206: tenants: cipher=kms-cipher tenants=1000 items-per-tenant=10 setup-kms-requests=0 writer-kms-requests=1000 reader-kms-requests=1000 writer-keystore-getitems=0 reader-keystore-getitems=0 writer-heap-bytes=874640 reader-heap-bytes=697792 empty-heap-bytes=-424
    tenants_test.go:206: tenants: cipher=keystore tenants=1000 items-per-tenant=10 setup-kms-requests=2000 writer-kms-requests=1000 reader-kms-requests=1001 writer-keystore-getitems=2000 reader-keystore-getitems=1000 writer-heap-bytes=1361216 reader-heap-bytes=1017760 empty-heap-bytes=6176
`
	_, lg, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(lg.tenants) != 2 {
		t.Fatalf("%d tenants runs, want 2", len(lg.tenants))
	}
	if _, _, err := parse(strings.NewReader("tenants: cipher=keystore tenants=1000\n")); err == nil {
		t.Error("a tenants line missing fields parsed")
	}
	sectionHas(t, "tenants section", func(p func(string, ...any)) { writeTenants(p, lg.tenants) },
		"## 1,000 tenants × 10 items",
		"| KMSCipher | 0 | 1,000 | 1,000 | - | 854 KiB (874 B per tenant) | 681 KiB (697 B per tenant) |",
		"| key store Cipher | 2,000 | 1,000 | 1,001 | 2,000, 1,000 | 1.30 MiB (1,361 B per tenant) | 994 KiB (1,017 B per tenant) |",
		"served nothing hold under 7 KiB.",
	)
}

func TestDBESDKBenchmarksArePrefixed(t *testing.T) {
	in := `pkg: github.com/dynacrypt/dynacrypt
BenchmarkInMemoryPutGet/store 	 1000	 12000 ns/op
pkg: github.com/dynacrypt/dynacrypt/dbesdk
BenchmarkInMemoryPutGet/store 	 1000	 13000 ns/op
BenchmarkInMemoryPutGet/dbesdk-6700-rawaes 	 1000	 39000 ns/op
`
	res, _, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	sectionHas(t, "DB-ESDK section", func(p func(string, ...any)) { writeDBESDK(p, res) }, "| InMemoryPutGet | dbesdk-6700-rawaes | 39000 | - | - | 3.00 |")
}

// TestDBESDKSectionShowsHierarchicalKeyring checks that the hierarchical
// keyring's Put+Get and ItemRoundTrip, in both suites, have their rows and
// ratios to the Store's.
func TestDBESDKSectionShowsHierarchicalKeyring(t *testing.T) {
	in := `pkg: github.com/dynacrypt/dynacrypt/dbesdk
BenchmarkInMemoryPutGet/store 	 1000	 10000 ns/op
BenchmarkInMemoryPutGet/dbesdk-6700-rawaes 	 1000	 33000 ns/op
BenchmarkInMemoryPutGet/dbesdk-6700-hierarchical 	 1000	 36000 ns/op	 20000 B/op	 140 allocs/op
BenchmarkInMemoryPutGet/dbesdk-6701-hierarchical 	 100	 2000000 ns/op
BenchmarkItemRoundTrip/store 	 1000	 5000 ns/op
BenchmarkItemRoundTrip/dbesdk-6700-hierarchical 	 1000	 30000 ns/op
`
	res, _, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	sectionHas(t, "DB-ESDK section", func(p func(string, ...any)) { writeDBESDK(p, res) },
		"| InMemoryPutGet | dbesdk-6700-hierarchical | 36000 | 20000 | 140 | 3.60 |",
		"| InMemoryPutGet | dbesdk-6701-hierarchical | 2000000 | - | - | 200.00 |",
		"| ItemRoundTrip | dbesdk-6700-hierarchical | 30000 | - | - | 6.00 |",
		"| ItemRoundTrip | dbesdk-6701-hierarchical | - | - | - | - |",
		"hierarchical keyring")
}

func TestPlaintextMigrationLines(t *testing.T) {
	in := "    plaintext_migration_test.go:205: plaintext-migration: 10000 items (seeded in 2s); the walk promoted 9500\n"
	_, lg, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(lg.plain) != 1 || lg.plain[0] != "10000 items (seeded in 2s); the walk promoted 9500" {
		t.Errorf("plaintext migration lines: %q", lg.plain)
	}
}

func TestWalkSection(t *testing.T) {
	in := `pkg: github.com/dynacrypt/dynacrypt/cmd/dynacrypt
BenchmarkWalkProcesses/processes=1-2 	 1	2630037637 ns/op	      2000 items/s
BenchmarkWalkProcesses/processes=4-2 	 1	1231278240 ns/op	      3000 items/s
BenchmarkWalkProcesses/processes=1-2 	 1	2630037637 ns/op	      2000 items/s
BenchmarkWalkProcesses/processes=4-2 	 1	1231278240 ns/op	      5000 items/s
`
	res, _, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	sectionHas(t, "walk section", func(p func(string, ...any)) { writeWalk(p, res) },
		"| 1 | 2000 |", "| 4 | 4000 |", "4 processes / 1 = **2.00** (rounds: 1.50 to 2.50)")
}

func TestExportDecryptSection(t *testing.T) {
	in := `pkg: github.com/dynacrypt/dynacrypt/cmd/dynacrypt
BenchmarkExportDecrypt/workers=1-2 1 2000000000 ns/op 10000 items/s 100000 ns/item 90000 cpu-ns/item 560000000 B/op 5600000 allocs/op
BenchmarkExportDecrypt/workers=4-2 1 1000000000 ns/op 19000 items/s 52000 ns/item 99000 cpu-ns/item 560000000 B/op 5600000 allocs/op
BenchmarkExportDecrypt/workers=1-2 1 2000000000 ns/op 8000 items/s 125000 ns/item 100000 cpu-ns/item 560000000 B/op 5600000 allocs/op
BenchmarkExportDecrypt/workers=4-2 1 1000000000 ns/op 17600 items/s 57000 ns/item 100000 cpu-ns/item 560000000 B/op 5600000 allocs/op
`
	res, _, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	sectionHas(t, "the section", func(p func(string, ...any)) { writeExportDecrypt(p, res) },
		"## Decrypting a whole export, against local-kms",
		"| 1 | 9000 | 112 | 95.0 | 28000 | 280 |",
		"| 4 | 18300 | 54.5 | 99.5 | 28000 | 280 |",
		"items per second **2.05** (rounds: 1.90 to 2.20), CPU time per item **1.05** (rounds: 1.00 to 1.10)",
		"The process got 0.84 of a core\nwith 1 worker and 1.83 with 4",
	)
	if out := sectionHas(t, "the section", func(p func(string, ...any)) { writeExportDecrypt(p, results{}) }); out != "" {
		t.Errorf("a run without the benchmark has the section:\n%s", out)
	}
}

// sectionHas writes a section of the report and checks that it holds
// every line of want; it returns the section.
func sectionHas(t *testing.T, name string, write func(p func(string, ...any)), want ...string) string {
	t.Helper()
	var out strings.Builder
	write(func(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) })
	for _, s := range want {
		if !strings.Contains(out.String(), s) {
			t.Errorf("%s lacks %q:\n%s", name, s, out.String())
		}
	}
	if strings.Contains(out.String(), "%!") {
		t.Errorf("%s has a misformatted verb:\n%s", name, out.String())
	}
	return out.String()
}
