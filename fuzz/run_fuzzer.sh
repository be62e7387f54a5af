#!/usr/bin/env bash
# Runs one fuzz target for a bounded time from a copy of its seed corpus, so
# that what the run adds never lands in the source tree.
#   fuzz/run_fuzzer.sh BINARY SEED_DIR SECONDS WORK_DIR
# A crash leaves the input in WORK_DIR/crash-* and fails the run.
set -euo pipefail
binary=$1 seeds=$2 seconds=$3 work=$4

rm -rf "$work"
mkdir -p "$work/corpus"
cp -r "$seeds"/. "$work/corpus/"
cd "$work"
# -rss_limit_mb: the instrumented parsers on a 2-core CI machine; -timeout: a
# single input taking this long is a hang worth reporting.
exec "$binary" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus"
