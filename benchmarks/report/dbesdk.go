package main

// writeDBESDK writes the section on AWS DB-ESDK's item format (package
// dbesdk's benchmarks), if they ran.
func writeDBESDK(p func(string, ...any), res results) {
	d := func(name string) string { return dbesdkPrefix + "Benchmark" + name }
	if _, ok := res[d("InMemoryPutGet/dbesdk-6700-rawaes")]; !ok {
		return
	}
	p("## AWS DB-ESDK's item format, one core, no I/O")
	p("")
	p("| benchmark (package dbesdk) | format | ns/op | B/op | allocs/op | / store, ns/op |")
	p("|---|---|---|---|---|---|")
	for _, bench := range []string{"InMemoryPutGet", "ItemRoundTrip"} {
		for _, f := range []string{"store", "dbesdk-6700-rawaes", "dbesdk-6701-rawaes", "dbesdk-6700-hierarchical", "dbesdk-6701-hierarchical"} {
			n := d(bench + "/" + f)
			ratio := ""
			if f != "store" {
				ratio = res.ratioSpread(n, d(bench+"/store"), "ns/op")
			}
			p("| %s | %s | %s | %s | %s | %s |", bench, f, res.cell(n, "ns/op"), res.cell(n, "B/op"), res.cell(n, "allocs/op"), ratio)
		}
	}
	p("")
	p("InMemoryPutGet: a Put and a Get of the 1 KB item through an in-memory DB, as in the section above, by a Store")
	p("in dynacrypt's format (store: the AES cipher, root key cached) and by Stores in DB-ESDK's format, in suite")
	p("0x6700 (no signature) and 0x6701 (ECDSA P-384, DB-ESDK's default), with a raw AES keyring (rawaes) or a")
	p("hierarchical keyring whose branch key version is cached (hierarchical: no key store or KMS request per item;")
	p("the benchmark fails if one is made). ItemRoundTrip: the same item's attribute map sealed and opened by Items,")
	p("without the Go struct. Target: dbesdk-6700 / store ≤ 3 for InMemoryPutGet. AWS's DB-ESDK for Go")
	p("(v0.1.0-beta.4) took about 2 ms (0x6700) and 4 ms (0x6701) per Put+Get on this kind of machine.")
	p("")
	in := d("InMemoryPutGetInterleaved")
	p("InMemoryPutGetInterleaved runs store and dbesdk-6700-rawaes in turns of 20 operations, so that both see the")
	p("same state of the machine: %s and %s ns/op, dbesdk-6700-rawaes / store = %s.", res.cell(in, "store-ns/op"),
		res.cell(in, "dbesdk-6700-rawaes-ns/op"), res.ratioSpreadUnits(in, "dbesdk-6700-rawaes-ns/op", in, "store-ns/op"))
	p("")
	p("Where 0x6700's time goes: DB-ESDK derives fresh keys for every item (a data key per item, as its keyrings")
	p("make them), which dynacrypt's format derives once per root key. Per Put+Get that is about 75 SHA-512")
	p("compression blocks (HKDF-SHA-512 of the record keys and of the keyring's intermediate key, the header")
	p("commitment, the SHA-384 canonical hash over the whole item and the recipient tag, each written and read):")
	p("about 60%% of the format's CPU time once garbage collection is left out, as the interleaved turns do. Next")
	p("come an AES key schedule and GCM table for each encrypted attribute and key (ten per Put+Get, each allocated")
	p("by the standard library: most of the format's allocated bytes). What the format does not require is cut:")
	p("the Store seals and opens items in place, canonical paths and their order are worked out once per table,")
	p("buffers are pooled, HMAC states are saved only for a key used twice, and everything that needs no key is")
	p("checked before the keyring is asked. The hierarchical keyring adds, per item, an HMAC-SHA-256 KDF of the")
	p("wrapping key from the cached branch key and the item's salt (the HMAC's states under the branch key are")
	p("computed once per version) and that key's AES-GCM set up, where the raw AES keyring sets up its own once.")
	p("0x6701 adds, per item, a P-384 key pair and signature on Put and a point decompression and signature")
	p("verification on Get: about 90%% of its time, the verification alone more than half.")
	p("")
}
