#!/usr/bin/env bash
# Runs every fuzz target for a while: scripts/fuzz.sh [seconds per target, default 600]
#
# cargo-fuzz needs nightly-only compiler flags; with no nightly toolchain on the machine,
# RUSTC_BOOTSTRAP=1 lets the stable compiler accept them. Crashing inputs are copied to
# fuzz/regressions/<target>/, which `cargo test` (tests/fuzz_replay.rs) replays forever.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-600}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
for target in ${FUZZ_TARGETS:-codecs wal_replay segment catalog manifest query rollup}; do
    mkdir -p "fuzz/corpus/$target" "fuzz/regressions/$target"
    echo "== $target for ${secs}s"
    if ! cargo fuzz run "$target" "fuzz/corpus/$target" -- -max_total_time="$secs" -rss_limit_mb=2048; then
        cp fuzz/artifacts/"$target"/crash-* "fuzz/regressions/$target/" 2>/dev/null || true
        echo "$target found a crash; copied to fuzz/regressions/$target/" >&2
    fi
done
