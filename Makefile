# make test   installs the pinned test servers (first run), starts them on loopback,
#             runs gofmt, go vet, staticcheck and the race-enabled tests, and stops them.
#             -short scales the benchmarks' 10,000-request count to 1,000; make bench
#             runs it whole.
# make demo   the same servers (and nothing else), then the demo of examples/users: the library's
#             promises shown one step at a time, on the users service's Store.
# make fuzz   runs each fuzz target for FUZZTIME (default 5m).
# make bench  runs the benchmarks in BENCH_COUNT interleaved rounds and writes BENCHMARKS.md,
#             and the fleet chart it shows, benchmarks/fleet.svg.

FUZZTIME ?= 5m
GO_PACKAGES := ./...
# The library; the nested test module that keeps minidyn out of its go.mod;
# the streams module, which keeps aws-lambda-go out of it.
MODULES := . tests/minidyn streams
# Runs $(1) in every module and fails if any run failed.
each_module = rc=0; for m in $(MODULES); do (cd $$m && $(1)) || rc=1; done; exit $$rc

.PHONY: test demo tools servers deps lint fuzz bench

tools:
	scripts/tools.sh

servers:
	@scripts/tools.sh servers

# Everything Go needs is fetched here, because the servers and tests run in a
# network namespace without registry access.
deps:
	@$(call each_module,go mod download && go list -deps -test $(GO_PACKAGES) >/dev/null)

lint: tools
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@$(call each_module,go vet $(GO_PACKAGES) && $(CURDIR)/.tools/bin/staticcheck $(GO_PACKAGES))

test: tools deps lint
	scripts/with-servers.sh sh -c '$(call each_module,go test -race -short -count=1 $(GO_PACKAGES))'

# The demo needs the servers and its own modules only: fetched here, since
# it runs where no registry is reachable (see deps).
demo: servers
	@go list -deps ./examples/users >/dev/null
	@scripts/with-servers.sh go run ./examples/users -demo

fuzz:
	go test ./internal/canonical -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)
	go test ./internal/canonical -run '^$$' -fuzz '^FuzzNormalizeNumber$$' -fuzztime $(FUZZTIME)
	go test ./internal/header -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	go test ./internal/dbesdk/ddbser -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)
	go test ./internal/dbesdk/structure -run '^$$' -fuzz '^FuzzParseHeader$$' -fuzztime $(FUZZTIME)
	go test ./internal/dbesdk/structure -run '^$$' -fuzz '^FuzzParseFooter$$' -fuzztime $(FUZZTIME)

BENCH_COUNT ?= 7
bench: servers deps
	scripts/with-servers.sh scripts/bench.sh $(BENCH_COUNT) > .tools/bench.txt; \
	  rc=$$?; cat .tools/bench.txt; [ $$rc -eq 0 ] || exit $$rc
	go run ./benchmarks/report -command "make bench" -fleet-svg benchmarks/fleet.svg < .tools/bench.txt > BENCHMARKS.md
