# Paredão — make run (the whole system, embedded) and make test (everything CI runs).
GO      ?= go
BIN     := bin/paredao
GOFLAGS ?=
# go.mod's toolchain line (go1.26.10: the standard library's fixes that
# govulncheck asks for) is fetched from the Go module proxy when the local Go
# is older; Debian-style installs set GOTOOLCHAIN=local in go.env, which this
# overrides for make.
GOTOOLCHAIN ?= auto
export GOTOOLCHAIN

.PHONY: build run test chaos soak bench load cluster fuzz vet rules lint clean proto

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/paredao

## run: the whole system in one process on the embedded broker and SQLite
run: build
	./$(BIN) run

## test: vet, every test of the main module, then the deploy module
test: vet
	@$(MAKE) --no-print-directory rules
	@$(MAKE) --no-print-directory lint
	$(GO) test ./... -count=1 -timeout 35m
	@if [ -f deploy/go.mod ]; then cd deploy && $(GO) test ./... -count=1; fi

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1)

## lint: golangci-lint (.golangci.yml) and govulncheck on both modules; the
## tools are installed at these pinned versions into bin/tools (git-ignored)
## and govulncheck reads a vulnerability database built offline from the pinned
## golang.org/x/vulndb module (scripts/vulndb.sh); see README, Quality gates
GOLANGCI_LINT_VERSION ?= v2.15.0
GOVULNCHECK_VERSION   ?= v1.9.0
VULNDB_VERSION        ?= v0.0.0-20261105234957-e22db6528018
TOOLS                 ?= $(CURDIR)/bin/tools
lint:
	@GO=$(GO) scripts/tool.sh $(TOOLS) github.com/golangci/golangci-lint/v2/cmd/golangci-lint $(GOLANGCI_LINT_VERSION)
	@GO=$(GO) scripts/tool.sh $(TOOLS) golang.org/x/vuln/cmd/govulncheck $(GOVULNCHECK_VERSION)
	$(TOOLS)/golangci-lint run ./...
	cd deploy && $(TOOLS)/golangci-lint run ./...
	@GO=$(GO) TOOLS=$(TOOLS) scripts/vulndb.sh $(VULNDB_VERSION) >/dev/null
	$(TOOLS)/govulncheck -db file://$(TOOLS)/vulndb/$(VULNDB_VERSION) ./...
	cd deploy && $(TOOLS)/govulncheck -db file://$(TOOLS)/vulndb/$(VULNDB_VERSION) ./...

## rules: promtool checks the alert rules and runs their unit tests (Debian's
## prometheus package has promtool); without promtool a skip line, in CI (CI=true) a failure
PROMTOOL ?= promtool
rules:
	@if command -v $(PROMTOOL) >/dev/null 2>&1; then \
	  $(PROMTOOL) check rules deploy/prometheus/paredao-rules.yaml && \
	  $(PROMTOOL) test rules deploy/prometheus/paredao-rules.test.yaml; \
	elif [ "$${CI:-}" = true ]; then \
	  echo "rules: $(PROMTOOL) not found; CI needs it (apt-get install prometheus)"; exit 1; \
	else \
	  echo "rules: SKIPPED, $(PROMTOOL) not found (apt-get install prometheus)"; \
	fi

## chaos: the fault tests on real processes: the multi-broker fault suite
## (PAREDAO_FAULT_SEED=n replays one seed, PAREDAO_FAULT_RUNS=n runs n seeds)
## and the single-broker chaos test
chaos:
	$(GO) test ./cmd/paredao -run 'TestFaultSuite|TestChaos' -count=1 -v -timeout 30m

## soak: the audience soak with 200,000 distinct clients (4,096 open files),
## the disk-full test, then the 10-minute memory run (an audience too)
soak:
	PAREDAO_SOAK_VOTERS=$${PAREDAO_SOAK_VOTERS:-200000} $(GO) test ./cmd/paredao -run 'TestAudienceSoak|TestDiskFull' -count=1 -v -timeout 30m
	DURATION=$${DURATION:-10m} PHASES=max scripts/load.sh --audience

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

## proto: regenerate the Go code of the record formats (proto/ → pipeline/pb)
## with protoc (apt-get install protobuf-compiler) and protoc-gen-go at the
## pinned version, installed into bin/proto when missing
PROTOC                 ?= protoc
PROTOC_GEN_GO_VERSION  := v1.36.12
PROTO_BIN              := $(CURDIR)/bin/proto
proto:
	@$(PROTO_BIN)/protoc-gen-go --version 2>/dev/null | grep -qx 'protoc-gen-go $(PROTOC_GEN_GO_VERSION)' || \
	  GOBIN=$(PROTO_BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	$(PROTOC) --plugin=protoc-gen-go=$(PROTO_BIN)/protoc-gen-go -I proto \
	  --go_out=. --go_opt=module=github.com/paredao/paredao \
	  proto/paredao/v1/*.proto proto/paredao/next/*.proto

clean:
	rm -rf bin

-include deploy/build.mk
