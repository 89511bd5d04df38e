# petrel — see README.md. `make help` lists the targets.
GO                 ?= go
STATICCHECK        ?= honnef.co/go/tools/cmd/staticcheck@v0.6.1
FUZZTIME           ?= 15s
BENCHTIME          ?= 1s
BENCHCOUNT         ?= 9
TEST_TIMEOUT       ?= 18m

.DEFAULT_GOAL := help
.PHONY: help demo test race bench fuzz lint

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

demo: ## two nodes on loopback moving data through a lossy link, with live progress and a report
	@echo "petrel demo (not built yet): it will start two petrel nodes on loopback,"
	@echo "put a simulated lossy link between them (loss, delay, reordering),"
	@echo "stream data one way and messages both ways with live progress"
	@echo "(throughput, RTT, congestion window, retransmits), and end with a report."
	@echo "Until the transport engine lands, run 'make test' and 'make bench'."

test: ## go vet, every test with the race detector (shuffled, uncached), then again as 32-bit (386)
	$(GO) vet ./...
	$(GO) test -race -shuffle=on -count=1 -timeout $(TEST_TIMEOUT) ./...
	@# 64-bit atomics on 32-bit targets need 8-byte alignment; only running there shows a miss.
	@if GOARCH=386 $(GO) test -count=1 -run '^$$' ./internal/monotime >/dev/null 2>&1; then \
		echo "GOARCH=386 $(GO) test -count=1 ./..."; GOARCH=386 $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...; \
	else echo "skipping the 386 run: this machine cannot run 386 binaries"; fi

race: test ## alias of test (the suite always runs with -race)

bench: ## run the benchmarks and regenerate BENCHMARKS.md from the run
	$(GO) run ./bench/report -benchtime $(BENCHTIME) -count $(BENCHCOUNT) -o BENCHMARKS.md

fuzz: ## run every fuzzer for FUZZTIME each (default 15s)
	./scripts/fuzz.sh $(FUZZTIME)

lint: ## gofmt check, go vet, staticcheck (pinned), go mod tidy -diff
	@out=$$(gofmt -l . | grep -v '^vendor/' || true); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) mod tidy -diff
