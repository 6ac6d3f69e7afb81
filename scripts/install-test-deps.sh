#!/usr/bin/env bash
# Installs the third-party WAMP clients used by the interop tests (test/interop):
#   - autobahn-python (Debian packages, run with /usr/bin/python3)
#   - autobahn-js (npm, pinned in test/interop/js/package-lock.json)
#   - Chromium (Debian package), driven headless by the console's browser tests
#   - wampy.js 8.0.2 (npm, same lock file)
#
# Idempotent and fast when everything is present. Non-interactive (safe in CI).
# Usage: scripts/install-test-deps.sh
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
export CI="${CI:-}"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
js_dir="$repo_root/test/interop/js"

log() { printf 'install-test-deps: %s\n' "$*" >&2; }

# --- Debian packages ----------------------------------------------------------
apt_packages=(
	python3-autobahn
	python3-twisted
	python3-msgpack
	python3-cbor2
	python3-u-msgpack
	python3-nacl
	python3-argon2
	curl # test/e2e drives the admin listener's POST /reload with it
	chromium # test/browser drives the console in it, headless
)

missing=()
for p in "${apt_packages[@]}"; do
	status="$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)"
	if [[ "$status" != "installed" ]]; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} > 0)); then
	log "installing Debian packages: ${missing[*]}"
	sudo_cmd=()
	if [[ "$(id -u)" -ne 0 ]]; then
		if ! command -v sudo >/dev/null 2>&1; then
			log "not root and sudo is not available; install as root: apt-get install ${missing[*]}"
			exit 1
		fi
		sudo_cmd=(sudo -n)
	fi
	"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update </dev/null
	"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
		"${missing[@]}" </dev/null
else
	log "Debian packages already installed"
fi

# Sanity check: Debian's interpreter must import everything the scripts use.
/usr/bin/python3 - <<'EOF'
import autobahn, twisted, msgpack, cbor2, umsgpack, nacl, argon2  # noqa: F401
EOF

# --- npm packages -------------------------------------------------------------
if ! command -v npm >/dev/null 2>&1; then
	log "npm not found; install Node.js 20+ to run the autobahn-js interop tests"
	exit 1
fi

# (wampy: a node_modules installed before wampy.js joined the interop suite lacks it.)
if [[ ! -d "$js_dir/node_modules" || "$js_dir/package-lock.json" -nt "$js_dir/node_modules" ||
	! -f "$js_dir/node_modules/wampy/package.json" ]]; then
	log "running npm ci in $js_dir"
	(cd "$js_dir" && npm ci --no-audit --no-fund </dev/null)
	# npm ci recreates node_modules; touch it so it is newer than the lock file.
	touch "$js_dir/node_modules"
else
	log "node_modules up to date"
fi

log "done"
