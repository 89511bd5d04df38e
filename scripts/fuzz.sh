#!/usr/bin/env bash
# Runs every Fuzz* function in the module for a bounded time each.
# Usage: scripts/fuzz.sh [fuzztime]   (default 15s)
set -euo pipefail
fuzztime=${1:-15s}
cd "$(dirname "$0")/.."
status=0
for pkg in $(go list ./...); do
	for fz in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
		echo "== $pkg $fz ($fuzztime)"
		go test -run '^$' -fuzz "^${fz}\$" -fuzztime "$fuzztime" "$pkg" || status=1
	done
done
exit $status
