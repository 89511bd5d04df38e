# petrel — see README.md. `make help` lists the targets.
GO                 ?= go
STATICCHECK        ?= honnef.co/go/tools/cmd/staticcheck@v0.6.1
FUZZTIME           ?= 15s
SEED               ?= 1
DURATION           ?= 10m
# Empty: the per-package rounds and -benchtime of bench/report/plan.go.
BENCHTIME          ?=
BENCHCOUNT         ?=
QUICKDIR           ?= $(or $(TMPDIR),/tmp)/petrel-bench-quick
TEST_TIMEOUT       ?= 18m
BENCHTAGS          ?=
DEMOFLAGS          ?=
# The library's module (the repo root), bench/ and cmd/: modules of their own
# so the transports bench compares with (quic-go, ...) and the CLI's
# progress bars stay out of the library's go.mod. `go ... ./...` at the root
# enters neither: every target runs in all three.
MODULES            := . bench cmd

.DEFAULT_GOAL := help
.PHONY: help demo test race bench bench-quick fuzz lint netns sim soak reliability

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

demo: ## two nodes on loopback: 1 GiB on one stream, then 20 s of streams and messages both ways through a lossy relay (1% loss, 20 ms RTT); live progress and a report
	cd cmd && $(GO) run ./petrel demo $(DEMOFLAGS)

test: ## in every module: go vet, every test with the race detector (shuffled, uncached), the allocation tests without it, then as 32-bit (386; under qemu-user where the machine cannot run 386, a subset: scripts/test386.sh)
	@set -e; for m in $(MODULES); do echo "== $$m"; \
		(cd $$m && $(GO) vet ./... && $(GO) test -race -shuffle=on -count=1 -timeout $(TEST_TIMEOUT) ./...); done
	@# The race detector makes sync.Pool drop Puts, so the allocation tests skip under it: run them again without.
	$(GO) test -count=1 -run 'Alloc' ./...
	@# 386: 32-bit int, and 64-bit atomics that need 8-byte alignment; only running there shows a miss.
	@# Natively where the machine runs 386 binaries (every package of the three modules); else under
	@# qemu-user (go test -exec), installed by the script when missing (as root), on the packages it
	@# lists with the reasons for those left out; else it says SKIPPING and why.
	./scripts/test386.sh -timeout $(TEST_TIMEOUT)

.PHONY: storm
storm: ## hostile traffic from a separate process at a live node, long version (20 s storm, 64 MiB transfer); prints its RELIABILITY figures
	cd cmd && PETREL_STORM_LONG=1 $(GO) test -count=1 -run 'TestStormBinary' -v ./petrel | grep -E 'RELIABILITY|^(ok|FAIL|--- )'

race: test ## alias of test (the suite always runs with -race)

bench: ## run every benchmark of both modules in interleaved rounds (bench/report/plan.go: 5 rounds of the components, 3 of the end-to-end; about 30 min on 2 cores), then a profiling pass; regenerate BENCHMARKS.md and bench/plots/
	cd bench && $(GO) run ./report -modules ..,. -tags '$(BENCHTAGS)' $(if $(BENCHCOUNT),-count $(BENCHCOUNT)) $(if $(BENCHTIME),-benchtime $(BENCHTIME)) -o ../BENCHMARKS.md -plots plots -profiles profiles

bench-quick: ## smoke run of every benchmark (1 round, 100ms or one op) and of the report's plots and profiles; writes to $TMPDIR, not BENCHMARKS.md; fails if a benchmark fails to run (not if a target is missed)
	cd bench && $(GO) run ./report -quick -modules ..,. -tags '$(BENCHTAGS)' -o $(QUICKDIR)/BENCHMARKS.md -plots $(QUICKDIR)/plots -profiles $(QUICKDIR)/profiles

fuzz: ## run every fuzzer for FUZZTIME each (default 15s; FUZZ_MATCH=regexp picks some) and print a summary (executions, new corpus entries, failures)
	./scripts/fuzz.sh $(FUZZTIME)

lint: ## gofmt check, go vet, staticcheck (pinned), go mod tidy -diff, in every module
	@out=$$(gofmt -l . | grep -v '^vendor/' || true); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@set -e; for m in $(MODULES); do echo "== $$m"; \
		(cd $$m && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./... && $(GO) mod tidy -diff); done

netns: ## as root: transfers between network namespaces (tbf, the lossy relay, rebinding, SIGTERM, restart); prints RELIABILITY netns
	cd cmd && $(GO) test -count=1 -run '^TestNetns$$' -v -timeout 5m ./petrel

sim: ## rerun one seed of the simulation of 16 nodes, verbosely, with its fault schedule (SEED=n, default 1)
	$(GO) test -count=1 -run '^TestSim$$' -v ./core -args -sim.seed=$(SEED)

soak: ## run simulation seeds until DURATION (default 10m) is spent; stops at the first failing seed and prints it
	@# Local directory mode (no package argument), so the summary prints without -v.
	cd core && $(GO) test -count=1 -run '^TestSimSoak$$' -timeout 0 -sim.duration=$(DURATION) $(if $(START),-sim.start=$(START))

reliability: ## regenerate RELIABILITY.md from real runs (simulation, ...); fails if a step fails
	cd cmd && $(GO) run ./reliability -o ../RELIABILITY.md
