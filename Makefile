# Paredão — make run (the whole system, embedded) and make test (everything CI runs).
GO      ?= go
BIN     := bin/paredao
GOFLAGS ?=

.PHONY: build run test chaos bench load cluster fuzz vet clean

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/paredao

## run: the whole system in one process on the embedded broker and SQLite
run: build
	./$(BIN) run

## test: vet, every test of the main module, then the deploy module
test: vet
	$(GO) test ./... -count=1 -timeout 35m
	@if [ -f deploy/go.mod ]; then cd deploy && $(GO) test ./... -count=1; fi

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1)

## chaos: the fault tests on real processes: the multi-broker fault suite
## (PAREDAO_FAULT_SEED=n replays one seed, PAREDAO_FAULT_RUNS=n runs n seeds)
## and the single-broker chaos test
chaos:
	$(GO) test ./cmd/paredao -run 'TestFaultSuite|TestChaos' -count=1 -v -timeout 30m

## bench: Go benchmarks of the hot paths
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## load: a 60 s load run on the embedded system (DURATION, CONNECTIONS, POW to change it)
load:
	scripts/load.sh

## cluster: broker, two web, two process and a sink as separate processes, a load, a rebalance
cluster:
	scripts/cluster.sh

## fuzz: 60 s of each fuzz target
fuzz:
	$(GO) test ./http -run '^$$' -fuzz FuzzParseVote -fuzztime 60s -fuzzminimizetime 5s
	$(GO) test ./http -run '^$$' -fuzz FuzzVerifyPow -fuzztime 60s -fuzzminimizetime 5s

clean:
	rm -rf bin

-include deploy/build.mk
