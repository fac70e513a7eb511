// Package benchmarks compares dynacrypt with the raw SDK and with the
// per-field KMS approach of the article the project grew from, through an
// in-process HTTP stub of DynamoDB and KMS, so the figures are client CPU,
// allocations and KMS requests rather than a server's speed. It holds only
// benchmarks; `make bench` runs them and writes BENCHMARKS.md.
package benchmarks
