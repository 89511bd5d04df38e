#!/usr/bin/env bash
# Runs every Fuzz* function of the three modules for a bounded time each
# and prints a summary: fuzzers run, executions, new corpus entries (kept in
# the Go build cache, not in testdata), failures. A failing input is written
# by go test to <pkg>/testdata/fuzz/<FuzzName>/ and listed at the end: commit
# it with the fix, and it stays a regression test of `go test`.
#
# Usage: scripts/fuzz.sh [fuzztime]   (default 15s)
#        FUZZ_MATCH=regexp scripts/fuzz.sh   runs only the fuzzers matching it
#
# The last line is for the reliability report (cmd/reliability):
#   RELIABILITY fuzz fuzzers=N seconds_each=S execs_total=E failures=F corpus_entries=C new_entries=M
# with per-fuzzer executions on a `RELIABILITY fuzz_execs` line.
set -euo pipefail
fuzztime=${1:-15s}
match=${FUZZ_MATCH:-.}
cd "$(dirname "$0")/.."

seconds=$fuzztime
case $fuzztime in
*s) seconds=${fuzztime%s} ;;
*m) seconds=$((${fuzztime%m} * 60)) ;;
esac

log=$(mktemp)
trap 'rm -f "$log"' EXIT
fuzzers=0 failures=0 worker_exits=0 execs_total=0 new_total=0
execs_line="" failed=""
# Packages with a fuzzer: those whose test files declare one (go test -list
# would build every test binary of the module just to ask).
pkgs=$(grep -l '^func Fuzz' --include='*_test.go' -r . | xargs -n1 dirname | sort -u)
for dir in $pkgs; do
	# The module the package is in (bench/ and cmd/ are modules of their own).
	mod=.
	for m in bench cmd; do
		case $dir in ./$m/*) mod=$m ;; esac
	done
	rel=./${dir#./}
	[ "$mod" = . ] || rel=./${dir#./"$mod"/}
	pkg=$(cd "$mod" && go list "$rel")
	for fz in $( (cd "$mod" && go test -list '^Fuzz' "$rel") | grep '^Fuzz' | grep -E "$match" || true); do
		fuzzers=$((fuzzers + 1))
		echo "== $pkg $fz ($fuzztime)"
		run() { (cd "$mod" && go test -run '^$' -fuzz "^${fz}\$" -fuzztime "$fuzztime" "$rel") >"$log" 2>&1; }
		if run; then
			result=ok
		elif grep -qE 'fuzzing process hung or terminated unexpectedly|^    context deadline exceeded$' "$log" &&
			! grep -q 'Failing input written' "$log" && run; then
			# A failure with no input to blame, from Go's fuzzing machinery on
			# a loaded machine: a worker killed because one execution passed
			# 10 s (golang/go#56238), or the coordinator's race at the
			# -fuzztime deadline that reports "context deadline exceeded"
			# (golang/go#75804, fixed in Go 1.27; go1.26.8 has it). Seen here
			# for FuzzOpen and FuzzTransportParams, neither reproduced alone.
			# Counted, shown, and run again once; a second such failure, or
			# any failure with an input, fails.
			result=ok
			worker_exits=$((worker_exits + 1))
			echo "   (failed with no failing input, Go fuzzing machinery; ran again, passed)"
		else
			result=FAIL
			failures=$((failures + 1))
			failed="$failed $pkg.$fz"
			cat "$log"
		fi
		# The last progress line: "fuzz: elapsed: 15s, execs: 272482 (14765/sec), new interesting: 6 (total: 17)".
		last=$(grep -E '^fuzz: elapsed: .*execs: [0-9]+' "$log" | tail -1 || true)
		execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$last")
		new=$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$last")
		execs=${execs:-0} new=${new:-0}
		execs_total=$((execs_total + execs))
		new_total=$((new_total + new))
		execs_line="$execs_line ${dir#./}.$fz=$execs"
		printf '   %-4s execs=%s new_interesting=%s\n' "$result" "$execs" "$new"
	done
done

# Committed seeds and regressions, in every package.
corpus=$(find . -path '*/testdata/fuzz/Fuzz*' -type f | wc -l)

echo
echo "fuzz summary: $fuzzers fuzzers, $fuzztime each, $execs_total executions, $new_total new corpus entries (build cache), $corpus committed corpus files, $failures failures"
if [ -n "$failed" ]; then
	echo "failed:$failed"
	echo "failing inputs (commit them with the fix):"
	git status --porcelain --untracked-files=all -- '*/testdata/fuzz/*' | sed 's/^/  /'
fi
echo "RELIABILITY fuzz_execs${execs_line}"
echo "RELIABILITY fuzz fuzzers=$fuzzers seconds_each=$seconds execs_total=$execs_total failures=$failures worker_exits_rerun=$worker_exits corpus_entries=$corpus new_entries=$new_total"
[ "$failures" -eq 0 ]
