# petrel — see README.md. `make help` lists the targets.
GO                 ?= go
STATICCHECK        ?= honnef.co/go/tools/cmd/staticcheck@v0.6.1
FUZZTIME           ?= 15s
SEED               ?= 1
DURATION           ?= 10m
BENCHTIME          ?= 1s
BENCHCOUNT         ?= 9
TEST_TIMEOUT       ?= 18m
BENCHTAGS          ?=
DEMOFLAGS          ?=
# The library's module (the repo root), bench/ and cmd/: modules of their own
# so the transports bench compares with (quic-go, ...) and the CLI's
# progress bars stay out of the library's go.mod. `go ... ./...` at the root
# enters neither: every target runs in all three.
MODULES            := . bench cmd

.DEFAULT_GOAL := help
.PHONY: help demo test race bench bench-quick fuzz lint sim soak reliability

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

demo: ## two nodes on loopback: 1 GiB on one stream, then 20 s of streams and messages both ways through a lossy relay (1% loss, 20 ms RTT); live progress and a report
	cd cmd && $(GO) run ./petrel demo $(DEMOFLAGS)

test: ## in every module: go vet, every test with the race detector (shuffled, uncached), the allocation tests without it, then as 32-bit (386)
	@set -e; for m in $(MODULES); do echo "== $$m"; \
		(cd $$m && $(GO) vet ./... && $(GO) test -race -shuffle=on -count=1 -timeout $(TEST_TIMEOUT) ./...); done
	@# The race detector makes sync.Pool drop Puts, so the allocation tests skip under it: run them again without.
	$(GO) test -count=1 -run 'Alloc' ./...
	@# 64-bit atomics on 32-bit targets need 8-byte alignment; only running there shows a miss.
	@set -e; if GOARCH=386 $(GO) test -count=1 -run '^$$' ./internal/monotime >/dev/null 2>&1; then \
		for m in $(MODULES); do echo "== $$m: GOARCH=386 $(GO) test -count=1 ./..."; \
			(cd $$m && GOARCH=386 $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...); done; \
	else echo "skipping the 386 run: this machine cannot run 386 binaries"; fi

race: test ## alias of test (the suite always runs with -race)

bench: ## run the benchmarks of both modules and regenerate BENCHMARKS.md from the run
	cd bench && $(GO) run ./report -modules ..,. -tags '$(BENCHTAGS)' -benchtime $(BENCHTIME) -count $(BENCHCOUNT) -o ../BENCHMARKS.md

bench-quick: ## smoke run of every benchmark (100ms, 1 round); writes a report to $TMPDIR, not BENCHMARKS.md
	cd bench && $(GO) run ./report -modules ..,. -tags '$(BENCHTAGS)' -benchtime 100ms -count 1 -o $(or $(TMPDIR),/tmp)/petrel-BENCHMARKS-quick.md

fuzz: ## run every fuzzer for FUZZTIME each (default 15s)
	./scripts/fuzz.sh $(FUZZTIME)

lint: ## gofmt check, go vet, staticcheck (pinned), go mod tidy -diff, in every module
	@out=$$(gofmt -l . | grep -v '^vendor/' || true); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@set -e; for m in $(MODULES); do echo "== $$m"; \
		(cd $$m && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./... && $(GO) mod tidy -diff); done

sim: ## rerun one seed of the simulation of 16 nodes, verbosely, with its fault schedule (SEED=n, default 1)
	$(GO) test -count=1 -run '^TestSim$$' -v ./core -args -sim.seed=$(SEED)

soak: ## run simulation seeds until DURATION (default 10m) is spent; stops at the first failing seed and prints it
	@# Local directory mode (no package argument), so the summary prints without -v.
	cd core && $(GO) test -count=1 -run '^TestSimSoak$$' -timeout 0 -sim.duration=$(DURATION) $(if $(START),-sim.start=$(START))

reliability: ## regenerate RELIABILITY.md from real runs (simulation, ...); fails if a step fails
	cd cmd && $(GO) run ./reliability -o ../RELIABILITY.md
