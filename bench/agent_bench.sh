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
#
# The memory step of the agent alone: BENCH_MEMORY_PROCESSES (default 1000000)
# short-lived processes, each making one watched connect, BENCH_MEMORY_CGROUPS
# (default 10000) of them each in a cgroup of its own, forked at
# BENCH_MEMORY_RATE per second (default 10000, what the agent sustains);
# BENCH_MEMORY_PROCESSES=0 leaves it out. BENCH_ONLY=agent runs only the agent
# alone (no rounds), BENCH_ONLY=memory only the memory step:
#
#   BENCH_ONLY=memory bench/agent_bench.sh ...
set -eu

here=$(cd "$(dirname "$0")" && pwd)
shimwatch=${1:?usage: agent_bench.sh SHIMWATCH_BINARY AGENT_BENCH_BINARY}
driver=${2:?usage: agent_bench.sh SHIMWATCH_BINARY AGENT_BENCH_BINARY}
[ "$(id -u)" -eq 0 ] || { echo "agent_bench: needs root" >&2; exit 2; }

started_dockerd=0
docker_flag=
only_flag=
if [ -n "${BENCH_ONLY:-}" ]; then
  # The agent alone has no docker workload: no dockerd to start.
  docker_flag=--no-docker
  only_flag="--only $BENCH_ONLY"
elif command -v docker >/dev/null 2>&1; then
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

# shellcheck disable=SC2086 # the optional flags are empty or split into words on purpose
"$driver" --shimwatch "$shimwatch" --rounds "${BENCH_ROUNDS:-10}" \
  --seconds "${BENCH_SECONDS:-1}" ${BENCH_REPORT:+--report "$BENCH_REPORT"} \
  --memory-processes "${BENCH_MEMORY_PROCESSES:-1000000}" \
  --memory-cgroups "${BENCH_MEMORY_CGROUPS:-10000}" --memory-rate "${BENCH_MEMORY_RATE:-10000}" \
  $docker_flag $auditd_flag $only_flag
