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
SWITCHYARD_REQUIRE_INTEROP=1 go test -race -count=1 -timeout 20m ./...

step "benchmarks, short mode (so they never rot; figures: docs/PERFORMANCE.md)"
go test -run='^$' -bench=. -benchtime=20x ./...

step "fuzz every decoder briefly (${FUZZTIME:=5s} each)"
for pkg in $(go list ./...); do
	for fuzz in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "-- $pkg $fuzz"
		go test -run='^$' -fuzz="^${fuzz}\$" -fuzztime="$FUZZTIME" "$pkg"
	done
done

step "all checks passed"
