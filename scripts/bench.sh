#!/usr/bin/env bash
# bench.sh ROUNDS
#
# Runs the benchmarks ROUNDS times, every benchmark once per round, and
# prints their output for benchmarks/report. Interleaving rounds, rather than
# repeating each benchmark ROUNDS times in a row, exposes the approaches being
# compared to the same drift of a shared machine's speed, so that their
# ratios can be taken round by round. Run it under scripts/with-servers.sh:
# the Update benchmark needs dynalite, and BenchmarkExportDecrypt local-kms.
set -euo pipefail
rounds=${1:-7}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.tools/bench"
mkdir -p "$bin"
cd "$root"
go test -c -o "$bin/dynacrypt.test" .
go test -c -o "$bin/benchmarks.test" ./benchmarks
go test -c -o "$bin/keystore.test" ./keystore
go test -c -o "$bin/dbesdk.test" ./dbesdk
(cd streams && go test -c -o "$bin/streams.test" .)
go test -c -o "$bin/cmd.test" ./cmd/dynacrypt

(cd benchmarks && "$bin/benchmarks.test" -test.run '^(TestKMSRequestsFor10000|TestFleetKMSRequests|TestTenantsKMSRequests)$' -test.v)
"$bin/dynacrypt.test" -test.run '^TestBeaconLookup$' -test.v | grep 'beacon-lookup:'
"$bin/dynacrypt.test" -test.run '^TestPlaintextTableEncryptedWhileServicesRun$' -test.v | grep 'plaintext-migration:'
for round in $(seq 1 "$rounds"); do
  echo "round $round of $rounds"
  "$bin/dynacrypt.test" -test.run '^$' -test.bench 'RoundTrip|QueryDecrypt|InMemoryPutGet|UnmarshalStored|ReferenceSHA256|LargeItem' -test.benchmem -test.cpu 1
  "$bin/keystore.test" -test.run '^$' -test.bench '^Benchmark(ItemRoundTrip|ItemRoundTripUncachedRoot|WrapUnwrap)$' -test.benchmem -test.cpu 1
  "$bin/dbesdk.test" -test.run '^$' -test.bench '^Benchmark(InMemoryPutGet|InMemoryPutGetInterleaved|ItemRoundTrip)$' -test.benchmem -test.cpu 1
  (cd benchmarks && "$bin/benchmarks.test" -test.run '^$' -test.bench . -test.benchmem -test.benchtime 2s)
  (cd streams && "$bin/streams.test" -test.run '^$' -test.bench '^BenchmarkLambdaEvent$' -test.benchmem -test.cpu 1)
  # Builds the command it runs, in its package's folder.
  (cd cmd/dynacrypt && "$bin/cmd.test" -test.run '^$' -test.bench '^BenchmarkWalkProcesses$' -test.benchtime 1x)
  (cd cmd/dynacrypt && "$bin/cmd.test" -test.run '^$' -test.bench '^BenchmarkExportDecrypt$' -test.benchmem -test.benchtime 2x)
done
