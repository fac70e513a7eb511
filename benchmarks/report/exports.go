package main

import (
	"fmt"
	"runtime"
)

// exportDecrypt names the sub-benchmark of BenchmarkExportDecrypt (package
// cmd/dynacrypt) with w workers.
func exportDecrypt(w string) string { return "BenchmarkExportDecrypt/workers=" + w }

// writeExportDecrypt writes the section on decrypting a whole export, if
// its benchmark ran.
func writeExportDecrypt(p func(string, ...any), res results) {
	if _, ok := res[exportDecrypt("1")]; !ok {
		return
	}
	p("## Decrypting a whole export, against local-kms")
	p("")
	p("BenchmarkExportDecrypt: `dynacrypt export-decrypt -in FOLDER -out FOLDER`, run in process, decrypts an export")
	p("folder from local files: 8 gzip data files of 2,500 of the 1 KB items each (20,000 items, 3 encrypted fields),")
	p("checked against the manifests, into a folder of JSON lines; one KMS request per run, for the one root key.")
	p("")
	p("| workers | items/s | µs/item | CPU µs/item | B/item | allocs/item |")
	p("|---|---|---|---|---|---|")
	perItem := func(name, unit string, per float64) string {
		v, ok := res.median(name, unit)
		if !ok {
			return "-"
		}
		return formatFloat(v / per)
	}
	for _, w := range []string{"1", "4"} {
		n := exportDecrypt(w)
		p("| %s | %s | %s | %s | %s | %s |", w, res.cell(n, "items/s"), perItem(n, "ns/item", 1000), perItem(n, "cpu-ns/item", 1000),
			perItem(n, "B/op", 20_000), perItem(n, "allocs/op", 20_000))
	}
	p("")
	p("4 workers / 1: items per second %s, CPU time per item %s, on this machine's %d cores.",
		res.ratioSpread(exportDecrypt("4"), exportDecrypt("1"), "items/s"),
		res.ratioSpread(exportDecrypt("4"), exportDecrypt("1"), "cpu-ns/item"), runtime.NumCPU())
	p("Every step (gunzip, MD5, JSON parsing, verification and decryption, JSON output) is CPU work on data files")
	p("that share nothing but the root key: a CPU time per item that stays the same with 4 workers means they cost")
	p("nothing more than one, and the wall time falls with the cores the workers get. The process got %s of a core",
		coresUsed(res, exportDecrypt("1")))
	p("with 1 worker and %s with 4 (CPU time / wall time): what the machine's other jobs left it, which is what moves",
		coresUsed(res, exportDecrypt("4")))
	p("the items per second from round to round, not the CPU time per item. An export cannot use more workers than")
	p("it has data files (DynamoDB writes at least one per partition); more cores than this machine's were not measured.")
	p("")
}

// coresUsed is the median CPU time per item over the median wall time per
// item of a benchmark: the cores its process got.
func coresUsed(res results, name string) string {
	cpu, ok1 := res.median(name, "cpu-ns/item")
	wall, ok2 := res.median(name, "ns/item")
	if !ok1 || !ok2 || wall == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", cpu/wall)
}
