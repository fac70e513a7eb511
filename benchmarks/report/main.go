// Command report turns the output of dynacrypt's benchmark runs into
// BENCHMARKS.md: one table per scenario with the median of each metric over
// the runs, the ratios between approaches, the machine and the command.
//
//	go run ./benchmarks/report -command "make bench" < bench.txt > BENCHMARKS.md
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// results maps a benchmark name (without the -GOMAXPROCS suffix) and a unit
// to the values measured, one per run.
type results map[string]map[string][]float64

var (
	benchLine  = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)
	kmsLine    = regexp.MustCompile(`kms-requests-10000: (\S+) (\d+)`)
	beaconLine = regexp.MustCompile(`beacon-lookup: (.*)$`)
	migration  = regexp.MustCompile(`plaintext-migration: (.*)$`)
)

// logs are what the tests that make bench runs once print for the report.
type logs struct {
	kms     map[string]string // approach -> KMS requests for 10,000 Puts and Gets
	beacons []string          // TestBeaconLookup's lines
	plain   []string          // TestPlaintextTableEncryptedWhileServicesRun's lines
	fleet   []fleetPoint      // TestFleetKMSRequests's fleets
	tenants []tenantsRun      // TestTenantsKMSRequests's runs
}

// keystorePrefix marks the benchmarks of package keystore, whose names
// (BenchmarkItemRoundTrip/aes) would otherwise sit among the root
// package's (BenchmarkItemRoundTrip) with nothing to tell a reader of the
// code which is which.
const keystorePrefix = "keystore."

// dbesdkPrefix marks the benchmarks of package dbesdk, whose names are the
// root package's too.
const dbesdkPrefix = "dbesdk."

func parse(r io.Reader) (results, logs, error) {
	res := results{}
	lg := logs{kms: map[string]string{}}
	sc := bufio.NewScanner(r)
	prefix := ""
	for sc.Scan() {
		line := sc.Text()
		if pkg, ok := strings.CutPrefix(line, "pkg: "); ok {
			// Each test binary names its package before its benchmarks.
			prefix = ""
			switch pkg = strings.TrimSpace(pkg); {
			case strings.HasSuffix(pkg, "/keystore"):
				prefix = keystorePrefix
			case strings.HasSuffix(pkg, "/dbesdk"):
				prefix = dbesdkPrefix
			}
			continue
		}
		if m := kmsLine.FindStringSubmatch(line); m != nil {
			lg.kms[m[1]] = m[2]
			continue
		}
		if m := fleetLine.FindStringSubmatch(line); m != nil {
			pt, err := parseFleet(m[1])
			if err != nil {
				return nil, lg, err
			}
			lg.fleet = append(lg.fleet, pt)
			continue
		}
		if m := tenantsLine.FindStringSubmatch(line); m != nil {
			run, err := parseTenants(m[1])
			if err != nil {
				return nil, lg, err
			}
			lg.tenants = append(lg.tenants, run)
			continue
		}
		if m := beaconLine.FindStringSubmatch(line); m != nil {
			lg.beacons = append(lg.beacons, m[1])
			continue
		}
		if m := migration.FindStringSubmatch(line); m != nil {
			lg.plain = append(lg.plain, m[1])
			continue
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		name := prefix + m[1]
		fields := strings.Fields(m[2])
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			if res[name] == nil {
				res[name] = map[string][]float64{}
			}
			res[name][fields[i+1]] = append(res[name][fields[i+1]], v)
		}
	}
	return res, lg, sc.Err()
}

func (r results) median(name, unit string) (float64, bool) {
	return median(r[name][unit])
}

func median(values []float64) (float64, bool) {
	vs := slices.Sorted(slices.Values(values))
	if len(vs) == 0 {
		return 0, false
	}
	if len(vs)%2 == 1 {
		return vs[len(vs)/2], true
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2, true
}

// cell formats the median of a metric, or "-" if it was not measured.
func (r results) cell(name, unit string) string {
	v, ok := r.median(name, unit)
	if !ok {
		return "-"
	}
	return formatFloat(v)
}

// formatFloat formats a figure with three significant digits or more.
func formatFloat(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// spread is the lowest and highest value of a metric over the rounds.
func (r results) spread(name, unit string) string {
	vs := r[name][unit]
	if len(vs) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f to %.0f", slices.Min(vs), slices.Max(vs))
}

// ratios divides benchmark a's metric by b's round by round: the rounds are
// interleaved (scripts/bench.sh), so the two saw the same machine speed in
// each, which a ratio of medians taken over different moments would not.
func (r results) ratios(a, b, unit string) []float64 { return r.unitRatios(a, unit, b, unit) }

// unitRatios is ratios of a's metric ua to b's metric ub.
func (r results) unitRatios(a, ua, b, ub string) []float64 {
	x, y := r[a][ua], r[b][ub]
	var rs []float64
	for i := 0; i < min(len(x), len(y)); i++ {
		if y[i] != 0 {
			rs = append(rs, x[i]/y[i])
		}
	}
	return rs
}

// ratio is the median of the round-by-round ratios of a to b.
func (r results) ratio(a, b, unit string) string { return ratioCell(r.ratios(a, b, unit)) }

// ratioCell formats the median of ratios with two decimals, or "-" if
// there are none.
func ratioCell(rs []float64) string {
	m, ok := median(rs)
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.2f", m)
}

// ratioSpread is ratio followed by the lowest and highest round's ratio.
func (r results) ratioSpread(a, b, unit string) string { return r.ratioSpreadUnits(a, unit, b, unit) }

// ratioSpreadUnits is ratioSpread of a's metric ua to b's metric ub.
func (r results) ratioSpreadUnits(a, ua, b, ub string) string {
	rs := r.unitRatios(a, ua, b, ub)
	m, ok := median(rs)
	switch {
	case !ok:
		return "-"
	case len(rs) < 2:
		return fmt.Sprintf("%.2f", m)
	}
	return fmt.Sprintf("**%.2f** (rounds: %.2f to %.2f)", m, slices.Min(rs), slices.Max(rs))
}

// rounds is how many times the benchmarks ran.
func (r results) rounds() int {
	n := 0
	for _, units := range r {
		for _, vs := range units {
			n = max(n, len(vs))
		}
	}
	return n
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func main() {
	command := flag.String("command", "make bench", "the command that produced the input, for the report")
	fleetSVG := flag.String("fleet-svg", "", "write the fleet chart to this file, and link it from the report by this path\n(so give it relative to where the report goes)")
	flag.Parse()
	res, lg, err := parse(os.Stdin)
	if err != nil {
		log.Fatal(err)
	}
	if len(res) == 0 {
		log.Fatal("no benchmark results on standard input")
	}
	svgLink := ""
	if *fleetSVG != "" && len(lg.fleet) > 0 {
		if err := os.WriteFile(*fleetSVG, fleetChart(lg.fleet), 0o644); err != nil {
			log.Fatal(err)
		}
		svgLink = *fleetSVG
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }

	p("# Benchmarks")
	p("")
	p("Generated by `%s` on %s. Every figure is the median of %d rounds; in each round every benchmark runs once,", *command, time.Now().UTC().Format("2006-01-02"), res.rounds())
	p("and ratios between approaches are taken within a round, then their median is given.")
	p("")
	p("- Machine: %s, %d cores, %s/%s", cpuModel(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	p("- Go: %s", runtime.Version())
	p("")

	p("## Encryption layer, one core, no I/O")
	p("")
	p("| benchmark | ns/op | B/op | allocs/op | ns/item |")
	p("|---|---|---|---|---|")
	for _, name := range []string{"BenchmarkItemRoundTrip", "BenchmarkItemRoundTripSuite1", "BenchmarkItemRoundTripBeacons", "BenchmarkStructRoundTrip", "BenchmarkQueryDecrypt"} {
		p("| %s | %s | %s | %s | %s |", strings.TrimPrefix(name, "Benchmark"), res.cell(name, "ns/op"),
			res.cell(name, "B/op"), res.cell(name, "allocs/op"), res.cell(name, "ns/item"))
	}
	p("")
	if ref, ok := res.median("BenchmarkReferenceSHA256", "ns/op"); ok {
		rt, _ := res.median("BenchmarkItemRoundTrip", "ns/op")
		p("For reference, SHA-256 of 1 KB (standard library, pure computation) took %.0f ns in this run; ItemRoundTrip is %.0f times that.", ref, rt/ref)
		p("On a shared virtual machine, allocation-heavy code varies far more than that: over this run's rounds ItemRoundTrip")
		p("took %s ns and QueryDecrypt %s ns per item, while SHA-256 took %s ns. Ratios within a round are steadier than absolute figures.",
			res.spread("BenchmarkItemRoundTrip", "ns/op"), res.spread("BenchmarkQueryDecrypt", "ns/item"), res.spread("BenchmarkReferenceSHA256", "ns/op"))
		p("")
	}
	p("ItemRoundTrip: encrypt and sign, then verify and decrypt, a 1 KB item with 3 encrypted fields (target: 40")
	p("allocations and 6 KB; AWS's DB-ESDK for Go, v0.1.0-beta.4, measured beside dynacrypt on a machine of this kind,")
	p("took 2.07 ms and 1.14 MB per in-memory Put+Get without ECDSA, 4.01 ms and 1.27 MB with it). StructRoundTrip adds")
	p("attributevalue's marshalling of the Go struct. QueryDecrypt: verify, decrypt and unmarshal a page of 100 such")
	p("items, per page (ns/op, B/op, allocs/op) and per item (ns/item; target 25 allocations and 3 KB per item).")
	p("Every benchmark but ItemRoundTripSuite1 writes suite 2, the default format (FORMAT.md); ItemRoundTripSuite1 is")
	p("ItemRoundTrip in suite 1, which dynacrypt wrote before and still reads: suite 1 / suite 2 = %s (a change of",
		res.ratioSpread("BenchmarkItemRoundTripSuite1", "BenchmarkItemRoundTrip", "ns/op"))
	p("format has to gain more than 20%%, a ratio of 1.25).")
	p("ItemRoundTripBeacons: ItemRoundTrip with beacons declared on two of the encrypted fields (16 and 12 bits,")
	p("one trimmed), which every seal computes: / ItemRoundTrip = %s (target ≤ 1.15).",
		res.ratioSpread("BenchmarkItemRoundTripBeacons", "BenchmarkItemRoundTrip", "ns/op"))
	p("")
	p("## Stream records, one core, no I/O")
	p("")
	p("| benchmark | records/s | ns/record | B/op | allocs/op | QueryDecrypt ns/item |")
	p("|---|---|---|---|---|---|")
	p("| LambdaEvent | %s | %s | %s | %s | %s |", res.cell("BenchmarkLambdaEvent", "records/s"), res.cell("BenchmarkLambdaEvent", "ns/record"),
		res.cell("BenchmarkLambdaEvent", "B/op"), res.cell("BenchmarkLambdaEvent", "allocs/op"), res.cell("BenchmarkQueryDecrypt", "ns/item"))
	p("")
	p("LambdaEvent (streams module): `streams.Records` over a Lambda event of 1,000 INSERTs of the 1 KB item, per batch")
	p("(B/op, allocs/op) and per record: converting each record's attribute values from aws-lambda-go's types, then")
	p("verifying, decrypting and unmarshalling its new image as QueryDecrypt does an item of a page. Per record /")
	p("QueryDecrypt per item = %s.", res.ratioSpreadUnits("BenchmarkLambdaEvent", "ns/record", "BenchmarkQueryDecrypt", "ns/item"))
	p("")
	p("## What encryption costs over the marshalling it wraps")
	p("")
	p("| benchmark | ns/op | B/op | allocs/op |")
	p("|---|---|---|---|")
	for _, name := range []string{"BenchmarkInMemoryPutGet/plain", "BenchmarkInMemoryPutGet/store", "BenchmarkUnmarshalStored"} {
		p("| %s | %s | %s | %s |", strings.TrimPrefix(name, "Benchmark"), res.cell(name, "ns/op"), res.cell(name, "B/op"), res.cell(name, "allocs/op"))
	}
	p("")
	p("InMemoryPutGet: a Put and a Get of the 1 KB item through an in-memory DB, with bare attributevalue")
	p("marshalling (plain) and with a Store and the AES cipher (store). store/plain = %s (target ≤ 2.5).",
		res.ratioSpread("BenchmarkInMemoryPutGet/store", "BenchmarkInMemoryPutGet/plain", "ns/op"))
	p("UnmarshalStored: attributevalue.UnmarshalMap of the stored, encrypted item, the yardstick of QueryDecrypt's")
	p("per-item cost: QueryDecrypt per item / UnmarshalStored = %s (target ≤ 2).",
		res.ratioSpreadUnits("BenchmarkQueryDecrypt", "ns/item", "BenchmarkUnmarshalStored", "ns/op"))
	p("")
	writeLargeItems(p, res)

	approaches := []string{"raw-sdk", "article-kms-per-field", "dynacrypt", "dynacrypt-no-cache"}
	labels := map[string]string{
		"raw-sdk": "(a) raw SDK", "article-kms-per-field": "(b) article: KMS per field",
		"dynacrypt": "(c) dynacrypt", "dynacrypt-no-cache": "(d) dynacrypt, no key cache",
	}
	p("## Put + Get of a 1 KB item through an in-process HTTP stub")
	p("")
	p("One Put and one Get per operation, sequentially. The stub answers DynamoDB and KMS with canned")
	p("responses; cpu-ns/op is the process's CPU time (client and stub) per operation.")
	p("")
	p("| approach | ns/op | cpu-ns/op | B/op | allocs/op | KMS requests/op |")
	p("|---|---|---|---|---|---|")
	for _, a := range approaches {
		n := "BenchmarkPutGet/" + a
		p("| %s | %s | %s | %s | %s | %s |", labels[a], res.cell(n, "ns/op"), res.cell(n, "cpu-ns/op"),
			res.cell(n, "B/op"), res.cell(n, "allocs/op"), res.cell(n, "kms-req/op"))
	}
	pg := func(a string) string { return "BenchmarkPutGet/" + a }
	p("")
	inter := "BenchmarkPutGetInterleaved"
	p("CPU ratios: (c)/(a) = %s (target ≤ 1.10), (b)/(a) = %s, (c)/(b) = %s, (d)/(a) = %s.",
		res.ratioSpreadUnits(inter, "dynacrypt-cpu-ns/op", inter, "raw-sdk-cpu-ns/op"), res.ratio(pg("article-kms-per-field"), pg("raw-sdk"), "cpu-ns/op"),
		res.ratio(pg("dynacrypt"), pg("article-kms-per-field"), "cpu-ns/op"), res.ratio(pg("dynacrypt-no-cache"), pg("raw-sdk"), "cpu-ns/op"))
	p("")
	p("(c)/(a) is measured by PutGetInterleaved, which runs (a), (c) and (a') in turns of 50 operations, so that")
	p("all three see the same state of the machine; the table's cpu-ns/op, each approach run alone for 2 s, put")
	p("(c)/(a) at %s. (a') is (a) carrying the bytes (c) stores: the item with its secrets replaced by binaries", res.ratioSpread(pg("dynacrypt"), pg("raw-sdk"), "cpu-ns/op"))
	p("of its ciphertexts' sizes, and a header; no encryption. (a')/(a) = %s is what the larger payload costs the SDK",
		res.ratioSpreadUnits(inter, "raw-sdk-stored-bytes-cpu-ns/op", inter, "raw-sdk-cpu-ns/op"))
	p("and the stub (binaries travel base64-encoded in DynamoDB's JSON, a third larger, and the header holds the")
	p("KMS-wrapped root key); (c)/(a') = %s is what dynacrypt's own code costs: encrypting, signing, verifying and",
		res.ratioSpreadUnits(inter, "dynacrypt-cpu-ns/op", inter, "raw-sdk-stored-bytes-cpu-ns/op"))
	p("decrypting.")
	p("")

	p("## Throughput with 5 ms KMS latency and 16 concurrent workers")
	p("")
	p("| approach | Put+Get operations/s |")
	p("|---|---|")
	for _, a := range approaches {
		p("| %s | %s |", labels[a], res.cell("BenchmarkPutGetKMSLatency/"+a, "ops/s"))
	}
	lt := func(a string) string { return "BenchmarkPutGetKMSLatency/" + a }
	p("")
	p("(c)/(a) = %s (target ≥ 0.80: KMS is off the hot path), (b)/(a) = %s (one KMS request per secret field",
		res.ratioSpread(lt("dynacrypt"), lt("raw-sdk"), "ops/s"), res.ratio(lt("article-kms-per-field"), lt("raw-sdk"), "ops/s"))
	p("per operation: six per Put+Get, so about 30 ms of KMS time each), (c)/(b) = %s.",
		res.ratio(lt("dynacrypt"), lt("article-kms-per-field"), "ops/s"))
	p("With the stub in the same process, (a) and (c) keep every core busy: (c)/(a) shows what dynacrypt costs in CPU")
	p("(encryption, signing, larger requests), since (c) makes no KMS request once its root key is cached. It moves")
	p("more from round to round than the sequential CPU ratio, because 16 workers on a shared machine's cores feel its")
	p("neighbours more.")
	p("")

	p("## KMS requests for 10,000 Puts and 10,000 Gets in one process")
	p("")
	p("| approach | KMS requests |")
	p("|---|---|")
	for _, a := range []string{"article-kms-per-field", "dynacrypt"} {
		v := lg.kms[a]
		if v == "" {
			v = "-"
		}
		p("| %s | %s |", labels[a], v)
	}
	p("")

	if len(lg.fleet) > 0 {
		writeFleet(p, lg.fleet, svgLink)
	}
	writeTenants(p, lg.tenants)

	writeKeyStoreCiphers(p, res)
	writeDBESDK(p, res)

	p("## Update under contention, against dynalite")
	p("")
	p("16 workers increment one item through two Stores with `Update`.")
	p("")
	p("| retries per successful update | updates/s |")
	p("|---|---|")
	p("| %s | %s |", res.cell("BenchmarkUpdateContention", "retries/update"), res.cell("BenchmarkUpdateContention", "updates/s"))
	p("")

	if len(lg.beacons) > 0 {
		p("## Lookups by an encrypted e-mail, against dynalite")
		p("")
		p("TestBeaconLookup: 10,000 members with random e-mails, each looked up through a global index on a beacon")
		p("of N bits, and through a plaintext index for comparison. Theory: (10,000 - 1) / 2^N false positives per lookup.")
		p("")
		for _, l := range lg.beacons {
			p("- %s", l)
		}
		p("")
	}

	if len(lg.plain) > 0 {
		p("## Encrypting a table of 10,000 plaintext items with its services running, against dynalite")
		p("")
		p("TestPlaintextTableEncryptedWhileServicesRun: two old writers and two Stores through the three phases of")
		p("`WithPlaintextItems` (docs/operations.md, \"Encrypting an existing table\"), the snapshot and the walk")
		p("concurrent with their writes: in dynacrypt's format with a KMSCipher against local-kms, then in DB-ESDK's")
		p("(raw AES keyring, suite 0x6700).")
		p("")
		for _, l := range lg.plain {
			p("- %s", l)
		}
		p("")
	}

	writeWalk(p, res)

	writeExportDecrypt(p, res)

	p("## Bulk load of 10,000 items into an empty table, against dynalite")
	p("")
	p("A versioned Store's `BatchPut` keeps optimistic locking with one conditional `PutItem` per item (8 at")
	p("a time); with `Overwrite` it sends `BatchWriteItem` requests of 25 items and replaces what is there.")
	p("")
	p("| BatchPut | items/s |")
	p("|---|---|")
	p("| conditional (default) | %s |", res.cell("BenchmarkBulkLoad/conditional", "items/s"))
	p("| with `Overwrite` | %s |", res.cell("BenchmarkBulkLoad/overwrite", "items/s"))
	p("")
	p("Overwrite / conditional = %s.", res.ratioSpread("BenchmarkBulkLoad/overwrite", "BenchmarkBulkLoad/conditional", "items/s"))
}

// writeKeyStoreCiphers writes the section on package keystore's benchmarks,
// if they ran.
func writeKeyStoreCiphers(p func(string, ...any), res results) {
	names := []string{"ItemRoundTrip", "ItemRoundTripUncachedRoot", "WrapUnwrap"}
	k := func(name, cipher string) string { return keystorePrefix + "Benchmark" + name + "/" + cipher }
	if _, ok := res[k("ItemRoundTrip", "keystore")]; !ok {
		return
	}
	p("## Key store Cipher against the AES cipher, one core, no I/O")
	p("")
	p("| benchmark (package keystore) | cipher | ns/op | B/op | allocs/op | keystore / aes, ns/op |")
	p("|---|---|---|---|---|---|")
	for _, name := range names {
		for _, c := range []string{"aes", "keystore"} {
			ratio := ""
			if c == "keystore" {
				ratio = res.ratioSpread(k(name, "keystore"), k(name, "aes"), "ns/op")
			}
			p("| %s | %s | %s | %s | %s | %s |", name, c, res.cell(k(name, c), "ns/op"), res.cell(k(name, c), "B/op"),
				res.cell(k(name, c), "allocs/op"), ratio)
		}
	}
	p("")
	p("ItemRoundTrip: seal and open the 1 KB item with each Cipher and the Store's root key cached, as in steady")
	p("state, so the Cipher is not called (target: key store within 5%% of AES). ItemRoundTripUncachedRoot: the same")
	p("without the root key cache, so every seal wraps a new root key and every open unwraps it; the branch key stays")
	p("cached, and the key store Cipher wraps locally with one HKDF more than the AES cipher. WrapUnwrap: one root key")
	p("wrapped and unwrapped, branch key cached.")
	p("")
}
