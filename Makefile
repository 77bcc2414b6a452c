# podwarden: `make run` starts everything locally, `make test` is what CI runs.
SHELL := /bin/bash
export GOTOOLCHAIN := local
export GOFLAGS := -buildvcs=false
GOBIN ?= $(shell go env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)

MODULES := proto shared services/node services/deployment services/daemonset services/statefulset services/job services/autoscaler services/core gateway integration deployments
PKGS := github.com/podwarden/podwarden/...

BUF_VERSION := v1.75.0
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
GRPC_GATEWAY_VERSION := v2.32.0

.PHONY: run test unit build vet lint generate check-generated openapi-data tools bench bench-scale chaos deps clean fuzz

## run: start Postgres, NATS, every service and the gateway (Ctrl-C stops them all)
run: deps
	go run ./deployments/local $(ARGS)

## test: unit and integration tests against a private Postgres and embedded NATS
test: deps vet
	go run ./shared/devenv/withpg -- go test -count=1 -timeout 20m $(PKGS)

## unit: the tests that need neither Postgres nor NATS
unit:
	go test -count=1 -short $(PKGS)

## fuzz: run each fuzz target (func FuzzXxx) for FUZZTIME, one after the other; FUZZ=regexp picks targets.
## `make test` already replays their seeds and testdata/fuzz; a crash found here is saved under testdata/fuzz.
FUZZTIME ?= 30s
FUZZ ?= .
fuzz:
	@set -e; grep -rl --include='*_test.go' '^func Fuzz' $(MODULES) | xargs -n1 dirname | sort -u | while read -r d; do \
		for t in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$d/*_test.go | sed 's/^func //'); do \
			[[ $$t =~ $(FUZZ) ]] || continue; \
			echo "== $$d $$t ($(FUZZTIME))"; \
			(cd $$d && go test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -parallel 1 .); \
		done; \
	done

build:
	go build $(PKGS)

vet:
	go vet $(PKGS)

## bench: the benchmarks of the README (medians of 3 runs, each on a fresh system, Postgres durable as make run's): Deployments (W1), StatefulSets, Jobs, then lists and watches
bench: deps
	go run ./shared/devenv/withpg -durable -- go run ./integration/bench -scales w1 -runs 3
	go run ./shared/devenv/withpg -durable -- go run ./integration/bench_statefulset -runs 3
	go run ./shared/devenv/withpg -durable -- go run ./integration/bench_job -runs 3
	go run ./shared/devenv/withpg -durable -- go run ./integration/bench_watch -runs 3

## bench-scale: how cost grows with the size of the world (not in CI; an hour or more): W1, W10 (10,000 pods), W100 (100,000 pods,
## then a minute idle), D50k (50,000 Deployments), N5k (a DaemonSet on 5,000 nodes), then cpu_growth_w10_over_w1 and
## cpu_growth_w100_over_w1; then StatefulSets and Jobs. Medians of RUNS runs (default 3), each on a fresh system, Postgres durable.
bench-scale: deps
	go run ./shared/devenv/withpg -durable -- go run ./integration/bench -scales w1,w10,w100,d50k,n5k -runs $(or $(RUNS),3)
	go run ./shared/devenv/withpg -durable -- go run ./integration/bench_statefulset -runs $(or $(RUNS),3)
	go run ./shared/devenv/withpg -durable -- go run ./integration/bench_job -runs $(or $(RUNS),3)

## chaos: the chaos harness (not in CI but its short version): TRIALS trials from SEED (or the trials of SEEDS=1,2,3; HA=1: 2 replicas of every service and 3 NATS servers), each a workload step under a killed, stopped or cut-off process; exits 1 on any violation
chaos: deps
	go run ./integration/chaos/cmd/chaos -trials $(or $(TRIALS),20) -seed $(or $(SEED),1) $(if $(SEEDS),-seeds $(SEEDS)) $(if $(HA),-ha)

## deps: what a fresh Debian machine lacks (PostgreSQL binaries)
deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
		echo "installing PostgreSQL (initdb not found)"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq postgresql >/dev/null; fi; }

## tools: the code generators, pinned (each its own go install: they conflict in one go.mod)
tools:
	@command -v buf >/dev/null && buf --version 2>/dev/null | grep -q $(BUF_VERSION:v%=%) || go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
	@command -v protoc-gen-go >/dev/null && protoc-gen-go --version | grep -q $(PROTOC_GEN_GO_VERSION) || go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	@command -v protoc-gen-go-grpc >/dev/null && protoc-gen-go-grpc --version | grep -q $(PROTOC_GEN_GO_GRPC_VERSION:v%=%) || go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	@command -v protoc-gen-grpc-gateway >/dev/null && protoc-gen-grpc-gateway --version 2>&1 | grep -q $(GRPC_GATEWAY_VERSION:v%=%) || go install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$(GRPC_GATEWAY_VERSION)
	@command -v protoc-gen-openapiv2 >/dev/null && protoc-gen-openapiv2 --version 2>&1 | grep -q $(GRPC_GATEWAY_VERSION:v%=%) || go install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@$(GRPC_GATEWAY_VERSION)

## generate: regenerate proto/gen and the OpenAPI document from proto/; verify the
## gateway's upstream OpenAPI v3 data (see openapi-data)
generate: tools
	buf lint
	buf generate
	go run ./gateway/internal/kubeopenapi/gen

## openapi-data: rewrite the gateway's OpenAPI v3 data from kube-apiserver's published
## documents: K8S_OPENAPI_SRC=<kubernetes>/api/openapi-spec/v3 (or kubectl-validate's
## pkg/openapiclient/builtins/<minor>) K8S_RELEASE=1.35
openapi-data:
	go run ./gateway/internal/kubeopenapi/gen -src "$(K8S_OPENAPI_SRC)" -release "$(K8S_RELEASE)" -origin "$(K8S_OPENAPI_ORIGIN)"

## lint: buf lint, gofmt, go vet
lint: tools vet
	buf lint
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## check-generated: fail when the committed generated code differs from `make generate`
check-generated: generate
	@if [ -n "$$(git status --porcelain -- proto/gen proto/openapi gateway/internal/kubeopenapi/data)" ]; then \
		git status --short -- proto/gen proto/openapi gateway/internal/kubeopenapi/data; echo "generated code is out of date: run make generate"; exit 1; fi

clean:
	rm -rf .data bin
