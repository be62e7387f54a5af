#!/bin/sh
# What the agent costs the node: exec and connect storms, docker CLI calls and
# a getpid loop with no agent, with empty BPF programs on the agent's
# tracepoints, with shimwatch and with auditd, interleaved; then the agent's
# throughput, losses, memory and idle CPU. Needs root. Tables on stdout.
#
#   bench/agent_bench.sh SHIMWATCH_BINARY AGENT_BENCH_BINARY
#   BENCH_ROUNDS=3 BENCH_SECONDS=0.5 bench/agent_bench.sh ...   # quicker
#
# BENCH_ROUNDS (default 10) interleaved rounds, BENCH_SECONDS (default 1) per
# workload and configuration; BENCH_REPORT=FILE also writes the tables there;
# BENCH_AUDITD=0 leaves auditd out. A dockerd is started for the docker CLI
# workload when none runs, and stopped again only then.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
shimwatch=${1:?usage: agent_bench.sh SHIMWATCH_BINARY AGENT_BENCH_BINARY}
driver=${2:?usage: agent_bench.sh SHIMWATCH_BINARY AGENT_BENCH_BINARY}
[ "$(id -u)" -eq 0 ] || { echo "agent_bench: needs root" >&2; exit 2; }

started_dockerd=0
docker_flag=
if command -v docker >/dev/null 2>&1; then
  if out=$("$here/../tests/integration/dockerd.sh" start); then
    case $out in *started*) started_dockerd=1 ;; esac
  else
    docker_flag=--no-docker
  fi
else
  docker_flag=--no-docker
fi
stop_dockerd() {
  if [ "$started_dockerd" -eq 1 ]; then "$here/../tests/integration/dockerd.sh" stop; fi
}
trap stop_dockerd EXIT INT TERM

auditd_flag=
[ "${BENCH_AUDITD:-1}" = 0 ] && auditd_flag=--no-auditd

# shellcheck disable=SC2086 # the optional flags are single words or empty
"$driver" --shimwatch "$shimwatch" --rounds "${BENCH_ROUNDS:-10}" \
  --seconds "${BENCH_SECONDS:-1}" ${BENCH_REPORT:+--report "$BENCH_REPORT"} \
  $docker_flag $auditd_flag
