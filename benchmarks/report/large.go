package main

import (
	"slices"
	"strconv"
	"strings"
)

// largePrefix names the sub-benchmarks of BenchmarkLargeItem, one per size
// of the encrypted field: BenchmarkLargeItem/390KB.
const largePrefix = "BenchmarkLargeItem/"

// largeSize is a BenchmarkLargeItem sub-benchmark and its field's size.
type largeSize struct {
	name  string // "390KB"
	bytes int
}

// largeSizes returns the sizes BenchmarkLargeItem ran, smallest first.
func largeSizes(res results) []largeSize {
	var sizes []largeSize
	for name := range res {
		size, ok := strings.CutPrefix(name, largePrefix)
		if !ok {
			continue
		}
		kb, err := strconv.Atoi(strings.TrimSuffix(size, "KB"))
		if err != nil || !strings.HasSuffix(size, "KB") {
			continue
		}
		sizes = append(sizes, largeSize{size, kb << 10})
	}
	slices.SortFunc(sizes, func(a, b largeSize) int { return a.bytes - b.bytes })
	return sizes
}

// copies is the median, over the rounds, of the bytes a size's Put and Get
// allocated per op as a multiple of the field's size.
func (r results) copies(s largeSize) string {
	var cs []float64
	for _, b := range r[largePrefix+s.name]["B/op"] {
		cs = append(cs, b/float64(s.bytes))
	}
	return ratioCell(cs)
}

// writeLargeItems writes the section on BenchmarkLargeItem, if it ran.
func writeLargeItems(p func(string, ...any), res results) {
	sizes := largeSizes(res)
	if len(sizes) == 0 {
		return
	}
	p("## Large items: Put + Get against AES-256-GCM, one core, no I/O")
	p("")
	p("| encrypted field | Store Put+Get, ns/op | AES-256-GCM seal+open, ns/op | store / GCM | B/op | B/op ÷ field |")
	p("|---|---|---|---|---|---|")
	for _, s := range sizes {
		n := largePrefix + s.name
		p("| %s | %s | %s | %s | %s | %s |", strings.Replace(s.name, "KB", " KB", 1), res.cell(n, "store-ns/op"), res.cell(n, "gcm-ns/op"),
			res.ratioSpreadUnits(n, "store-ns/op", n, "gcm-ns/op"), res.cell(n, "B/op"), res.copies(s))
	}
	p("")
	p("LargeItem: a Put and a Get, through an in-memory DB, of an item whose bulk is one encrypted string field (a")
	p("note, a document), beside the floor the cipher sets: the standard library's AES-256-GCM sealing and opening")
	p("the same number of bytes into buffers it reuses. The two run in turns of 64 MB of payload, each turn timed by")
	p("the process's CPU time, so that both see the same state of the machine; a Store turn ends with a collection of")
	p("its garbage, which it pays for. Targets: store / GCM at most 2 at 390 KB and 2.5 at 100 KB, and at most 2.5")
	p("times the field's size allocated per Put and Get. What a Put and a Get must allocate is twice the field: the")
	p("ciphertext the DB is given and the plaintext Get returns; each is copied once (encoded where it is sealed;")
	p("gathered with the tag where it is opened, since GCM opens one piece and the DB's ciphertext is not the Store's")
	p("to write on). The largest part of the rest of the distance to the floor is the collector's: those two buffers")
	p("are left to collect after every Put and Get (the DB keeps one, the caller the other, so no pool can serve them),")
	p("and in a process with a heap of a few MB, as this benchmark's is, a collection comes every few operations and")
	p("marks the program's other data (here mostly the AWS SDK's) each time. Run the benchmark with GOGC=400 to see how")
	p("much of store / GCM is the collector's.")
	p("")
}
