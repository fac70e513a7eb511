// Package benchmarks compares dynacrypt with the raw SDK and with the
// per-field KMS approach of the article the project grew from, through an
// in-process HTTP stub of DynamoDB and KMS, so the figures are client CPU,
// allocations and KMS requests rather than a server's speed. It also counts
// the KMS requests of fleets of processes and of many tenants, with
// KMSCipher and with the key store's Cipher, through a stub that keeps
// their tables item by item. It holds only tests and benchmarks; `make
// bench` runs them and writes BENCHMARKS.md and its chart.
package benchmarks
