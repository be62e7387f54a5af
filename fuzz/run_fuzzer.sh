#!/usr/bin/env bash
# Runs one fuzz target for a bounded time from a copy of its seed corpus, so
# that what the run adds never lands in the source tree.
#   fuzz/run_fuzzer.sh BINARY SEED_DIR SECONDS WORK_DIR [RUNS]
# A crash leaves the input in WORK_DIR/crash-* and fails the run. With RUNS
# the run is repeatable: that many inputs from a fixed seed (the test smoke,
# so that a test run never fails on a new input found by chance; `make fuzz`
# explores).
set -euo pipefail
binary=$1 seeds=$2 seconds=$3 work=$4 runs=${5:-}
repeatable=()
[[ -n $runs ]] && repeatable=(-runs="$runs" -seed=1)

rm -rf "$work"
mkdir -p "$work/corpus"
cp -r "$seeds"/. "$work/corpus/"
cd "$work"
# -rss_limit_mb: the instrumented parsers on a 2-core CI machine; -timeout: a
# single input taking this long is a hang worth reporting.
exec "$binary" "${repeatable[@]}" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus"
