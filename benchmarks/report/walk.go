package main

// writeWalk writes the section on a walk spread over processes (package
// cmd/dynacrypt's BenchmarkWalkProcesses), if it ran.
func writeWalk(p func(string, ...any), res results) {
	w := func(processes string) string { return "BenchmarkWalkProcesses/processes=" + processes }
	if _, ok := res[w("1")]; !ok {
		return
	}
	p("## A walk across processes, against dynalite")
	p("")
	p("BenchmarkWalkProcesses: `dynacrypt reencrypt -all` over a table of 5,000 items in 16 segments, by one process of")
	p("the built command, and by four, each a quarter of the segments (`-segment 0-3`, `4-7`, ...) with its own")
	p("checkpoint file, as four machines would run it; every item verified, decrypted, re-encrypted under a fresh")
	p("root key and written on condition. Items/s: the table's items over the time from the first start to the")
	p("last exit, KMS (local-kms) included.")
	p("")
	p("| processes | items/s |")
	p("|---|---|")
	for _, n := range []string{"1", "4"} {
		p("| %s | %s |", n, res.cell(w(n), "items/s"))
	}
	p("")
	p("4 processes / 1 = %s. Here all of them share this machine's cores and one dynalite (a single Node.js", res.ratioSpread(w("4"), w("1"), "items/s"))
	p("process that serves every request), so the figure shows what splitting a walk costs (nothing, here), not how")
	p("far it scales. Against DynamoDB, each process on a machine of its own, a walk's rate grows with the processes")
	p("until the table's write capacity is reached: [docs/operations.md](docs/operations.md#walks-across-machines)")
	p("says how to choose the processes and segments.")
	p("")
}
