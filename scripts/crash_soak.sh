#!/bin/sh
# Long reliability runs: thousands of kill -9 trials per durability mode
# (tests/crash.rs, crash_soak) and the long fault sweep (tests/fault_sweep.rs).
#
# Usage: scripts/crash_soak.sh [TRIALS [SEED [FAULT_SEEDS]]]
#   TRIALS       kill -9 trials per mode (default 1000)
#   SEED         seed of the kill timings (default: the time; printed, so a run repeats)
#   FAULT_SEEDS  power-cut seeds per fault point in the long sweep (default 8)
# Extra cargo arguments go in CARGO_ARGS, e.g. CARGO_ARGS=--release.
# SEDIMENT_CRASH_MODES=periodic (or sync) runs one durability mode only;
# SEDIMENT_CRASH_KEEP=DIR keeps the database and the state the last kill left in DIR.
# Long runs: tee the output to a file, so a failure's message and seed are kept.
set -eu
TRIALS=${1:-1000}
SEED=${2:-$(date +%s)}
FAULT_SEEDS=${3:-8}
cd "$(dirname "$0")/.."
echo "crash soak: $TRIALS trials per mode, seed $SEED; fault sweep: $FAULT_SEEDS seeds"
# shellcheck disable=SC2086
SEDIMENT_CRASH_TRIALS=$TRIALS SEDIMENT_CRASH_SEED=$SEED \
    cargo test ${CARGO_ARGS:-} --test crash -- --ignored crash_soak --nocapture
# shellcheck disable=SC2086
SEDIMENT_FAULT_SEEDS=$FAULT_SEEDS \
    cargo test ${CARGO_ARGS:-} --test fault_sweep -- --ignored long_fault_sweep --nocapture
