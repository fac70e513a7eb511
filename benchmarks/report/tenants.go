package main

import (
	"fmt"
	"regexp"
)

// tenantsLine is a line of TestTenantsKMSRequests (package benchmarks):
// "tenants: cipher=keystore tenants=1000 ...".
var tenantsLine = regexp.MustCompile(`tenants: (cipher=.*)$`)

// tenantsRun is what TestTenantsKMSRequests measured for one cipher.
type tenantsRun struct {
	cipher                            string
	tenants, itemsPerTenant           int64
	setupKMS, writerKMS, readerKMS    int64
	writerGets, readerGets            int64 // GetItem requests to the key store
	writerHeap, readerHeap, emptyHeap int64 // bytes a process's Store and Cipher hold
}

func parseTenants(fields string) (tenantsRun, error) {
	var r tenantsRun
	err := keyValues("tenants", fields, &r.cipher, map[string]*int64{
		"tenants": &r.tenants, "items-per-tenant": &r.itemsPerTenant, "setup-kms-requests": &r.setupKMS,
		"writer-kms-requests": &r.writerKMS, "reader-kms-requests": &r.readerKMS,
		"writer-keystore-getitems": &r.writerGets, "reader-keystore-getitems": &r.readerGets,
		"writer-heap-bytes": &r.writerHeap, "reader-heap-bytes": &r.readerHeap, "empty-heap-bytes": &r.emptyHeap,
	})
	return r, err
}

// writeTenants writes the tenants section of the report.
func writeTenants(p func(string, ...any), runs []tenantsRun) {
	if len(runs) == 0 {
		return
	}
	t, items := runs[0].tenants, runs[0].itemsPerTenant
	p("## %s tenants × %d items", thousands(t), items)
	p("")
	p("TestTenantsKMSRequests: a table declared `WithTenantAttribute`, %s tenants of %d items each, one writer process", thousands(t), items)
	p("that puts them all, then one reader process that gets them all in a random order, through the same stub. With the")
	p("key store each tenant has its own branch key, created first (set-up, by an operator, 2 KMS Encrypts each).")
	p("Target: about one KMS request per tenant per process.")
	p("")
	p("| cipher | set-up KMS | writer KMS | reader KMS | key store GetItems (writer, reader) | writer holds | reader holds |")
	p("|---|---|---|---|---|---|---|")
	for _, c := range fleetCiphers {
		for _, r := range runs {
			if r.cipher != c.name {
				continue
			}
			gets := "-"
			if r.cipher == "keystore" {
				gets = thousands(r.writerGets) + ", " + thousands(r.readerGets)
			}
			p("| %s | %s | %s | %s | %s | %s | %s |", c.label, thousands(r.setupKMS), thousands(r.writerKMS), thousands(r.readerKMS),
				gets, heldCell(r.writerHeap, r.tenants), heldCell(r.readerHeap, r.tenants))
		}
	}
	p("")
	p("Holds: the heap a process's Store and Cipher keep once they have served every tenant, measured as the live heap")
	p("(`runtime.MemStats.HeapAlloc` after two collections) with them less the live heap once they are released; per")
	p("tenant in brackets. It is their caches: the writer's current root key per tenant and the root keys it can read back,")
	p("the reader's unwrapped root keys, and with the key store each tenant's branch key version (and, for the writer,")
	p("which version is active). A Store and Cipher that served nothing hold %s.", emptyHeld(runs))
	p("Both processes call KMS once per tenant only while the tenants fit the caches (1,000 root keys, 1,000 branch key")
	p("versions by default): with more tenants per process, raise `WithKeyCacheSize` and `keystore.WithCacheSize`.")
	p("")
}

// heldCell formats bytes held, and per tenant.
func heldCell(bytes, tenants int64) string {
	if tenants <= 0 {
		return kib(bytes)
	}
	return fmt.Sprintf("%s (%s B per tenant)", kib(bytes), thousands(bytes/tenants))
}

func kib(bytes int64) string {
	if bytes >= 1<<20 {
		return fmt.Sprintf("%.2f MiB", float64(bytes)/(1<<20))
	}
	return fmt.Sprintf("%.0f KiB", float64(bytes)/(1<<10))
}

// emptyHeld says how much an unused Store and Cipher hold: a few KiB, within
// the measure's noise, which can make it come out below zero.
func emptyHeld(runs []tenantsRun) string {
	var most int64
	for _, r := range runs {
		most = max(most, r.emptyHeap)
	}
	return fmt.Sprintf("under %s", kib(max(most, 0)+1<<10))
}
