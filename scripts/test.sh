#!/usr/bin/env bash
# The test suite, with its set-up: installs what the tests use as real clients when the
# machine lacks it (Debian packages, as root or with sudo), then runs `cargo test` (every
# crate of the workspace). Extra arguments go to `cargo test`.
#
#   gcc         zstd-sys and rusqlite's bundled SQLite are C
#   python3     ../shared/bench/gen.py makes the standard dataset for the CLI and tsbs tests
#   promtool    (package prometheus) queries `sediment serve` in serve_promtool.rs
#   chromium    renders the HTML report in sedimentdb-report's html_chromium.rs
#   tmux        drives the real `sediment dashboard` in dashboard_tmux.rs
#
# The tests that need one of these fail with how to install it; they never skip.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

apt_install() {
    local sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "missing $*: install it with your package manager" >&2
        return 1
    fi
    if [ -z "${APT_UPDATED:-}" ]; then
        $sudo apt-get update -qq
        APT_UPDATED=1
    fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

command -v cc >/dev/null 2>&1 || apt_install gcc
command -v python3 >/dev/null 2>&1 || apt_install python3
if ! command -v promtool >/dev/null 2>&1; then
    apt_install prometheus
    # Only the promtool binary is used; stop the server the package may have started.
    if command -v systemctl >/dev/null 2>&1; then systemctl stop prometheus >/dev/null 2>&1 || true; fi
fi
command -v chromium >/dev/null 2>&1 || apt_install chromium
command -v tmux >/dev/null 2>&1 || apt_install tmux

cargo test "$@"
