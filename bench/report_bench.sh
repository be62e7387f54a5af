#!/bin/sh
# Throughput and peak memory of `shimwatch report --format json` against a jq
# pipeline doing the same grouping (origin -> calls, actions, nodes, command
# lines, first/last seen), on the same generated logs, in the same run.
#
#   bench/report_bench.sh [SHIMWATCH_BINARY]
#   REPORT_BENCH_MIB=200 bench/report_bench.sh build/shimwatch   # quicker
#
# REPORT_BENCH_MIB (default 1024) MiB of logs over REPORT_BENCH_NODES (default
# 20) nodes are generated in a temporary directory (REPORT_BENCH_DIR to keep
# them elsewhere) and removed at the end.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
shimwatch=${1:-$here/../build/shimwatch}
mib=${REPORT_BENCH_MIB:-1024}
nodes=${REPORT_BENCH_NODES:-20}
for tool in python3 jq /usr/bin/time "$shimwatch"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "report_bench: $tool is missing" >&2; exit 2; }
done

work=$(mktemp -d "${REPORT_BENCH_DIR:-/tmp}/shimwatch-report-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

echo "generating $mib MiB of audit logs over $nodes nodes in $work ..."
python3 "$here/report_gen.py" --mib "$mib" --nodes "$nodes" --out "$work/logs"
bytes=$(cat "$work"/logs/*.log | wc -c)

# The baseline: one jq process over every file; lines that are not JSON are
# skipped (fromjson?) as the report does.
cat >"$work/group.jq" <<'JQ'
reduce (inputs | fromjson? | select(type == "object" and .shimwatch.origin != null)) as $e ({};
  ($e.shimwatch.origin
   | if .type == "pod" then "workload:" + ($e.kubernetes.namespace // "") + "/" + (.workload.kind // "Pod") + "/" + (.workload.name // $e.kubernetes.pod.name // "")
     elif .type == "container" then "container:" + ($e.container.id // "" | .[0:12])
     elif .type == "systemd_unit" then "systemd_unit:" + .unit
     elif .type == "user_session" then "user_session:uid " + (.login_uid | tostring)
     else "host:" + ($e.process.executable // "") end) as $key
  | ($e.shimwatch.repeat.count // 1) as $calls
  | .[$key].calls += $calls
  | .[$key].actions[$e.event.action] += $calls
  | .[$key].nodes[$e.host.name] = true
  | .[$key].command_lines[$e.process.command_line // ""] += $calls
  | .[$key].first = ([.[$key].first, ($e.shimwatch.repeat.first_seen // $e["@timestamp"])] | map(select(. != null)) | min)
  | .[$key].last = ([.[$key].last, $e["@timestamp"]] | map(select(. != null)) | max))
JQ

# run NAME COMMAND...: wall seconds and peak RSS (KiB) into $work/NAME.*
run() {
  name=$1
  shift
  start=$(date +%s.%N)
  /usr/bin/time -v -o "$work/$name.time" "$@" >"$work/$name.out"
  end=$(date +%s.%N)
  echo "$start $end" | awk '{printf "%.3f", $2 - $1}' >"$work/$name.seconds"
  sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/$name.time" >"$work/$name.rss"
}

echo "running shimwatch report ..."
run shimwatch "$shimwatch" report --format json "$work"/logs/*.log
# What the binary costs before reading anything (shared libraries of the agent).
run baseline "$shimwatch" version
echo "running jq ..."
run jq jq -nR -c -f "$work/group.jq" "$work"/logs/*.log

origins_report=$(jq '.origins | length' "$work/shimwatch.out")
origins_jq=$(jq 'length' "$work/jq.out")
awk -v bytes="$bytes" \
  -v s_sec="$(cat "$work/shimwatch.seconds")" -v s_rss="$(cat "$work/shimwatch.rss")" \
  -v j_sec="$(cat "$work/jq.seconds")" -v j_rss="$(cat "$work/jq.rss")" \
  -v s_origins="$origins_report" -v j_origins="$origins_jq" -v b_rss="$(cat "$work/baseline.rss")" 'BEGIN {
  mib = bytes / 1048576
  printf "input: %.1f MiB\n", mib
  printf "%-18s %10s %12s %14s %8s\n", "tool", "seconds", "MiB/s", "peak RSS MiB", "origins"
  printf "%-18s %10.2f %12.1f %14.1f %8d\n", "shimwatch report", s_sec, mib / s_sec, s_rss / 1024, s_origins
  printf "%-18s %10.2f %12.1f %14.1f %8d\n", "jq baseline", j_sec, mib / j_sec, j_rss / 1024, j_origins
  printf "(shimwatch version alone: %.1f MiB peak RSS; the report adds %.1f MiB)\n", b_rss / 1024, (s_rss - b_rss) / 1024
  printf "throughput ratio (report / jq): %.1fx\n", j_sec / s_sec
  printf "peak RSS ratio (report / jq):   %.2f\n", s_rss / j_rss
}'
if [ "$origins_report" != "$origins_jq" ]; then
  echo "report_bench: the report found $origins_report origins, jq $origins_jq" >&2
  exit 1
fi
