#!/usr/bin/env bash
# Runs every check and test of Switchyard, installing what the interop tests
# need first (idempotent). This is the command the README names and CI runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n== %s\n' "$*"; }

step "install test dependencies (Debian packages, npm packages)"
scripts/install-test-deps.sh

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './test/interop/js/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "go test -race (unit, conformance, end-to-end and interop tests)"
# The browser tests (test/browser) keep a screenshot of the console per test here.
export SWITCHYARD_BROWSER_SCREENSHOTS="${SWITCHYARD_BROWSER_SCREENSHOTS:-${TMPDIR:-/tmp}/switchyard-screenshots}"
echo "browser test screenshots: $SWITCHYARD_BROWSER_SCREENSHOTS"
SWITCHYARD_REQUIRE_INTEROP=1 go test -race -count=1 -timeout 20m ./...

step "benchmarks, short mode (so they never rot; figures: docs/PERFORMANCE.md)"
go test -run='^$' -bench=. -benchtime=20x ./...

step "fuzz every decoder briefly (${FUZZTIME:=5s} each)"
# A real finding always writes its input under testdata/fuzz ("Failing input
# written to ..."). The fuzzing engine can also stop with "context deadline
# exceeded" when a worker answers late on a loaded machine; such a run found
# nothing and is tried once more.
fuzz_once() {
	local out
	out=$(go test -run='^$' -fuzz="^$2\$" -fuzztime="$FUZZTIME" "$1" 2>&1) && { echo "$out" | tail -n 1; return 0; }
	echo "$out"
	if ! grep -q 'Failing input written to' <<<"$out" && grep -q 'context deadline exceeded' <<<"$out"; then
		echo "-- $2: the fuzzing engine timed out without a finding; running it once more"
		go test -run='^$' -fuzz="^$2\$" -fuzztime="$FUZZTIME" "$1"
		return
	fi
	return 1
}
for pkg in $(go list ./...); do
	for fuzz in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "-- $pkg $fuzz"
		fuzz_once "$pkg" "$fuzz"
	done
done

step "all checks passed"
