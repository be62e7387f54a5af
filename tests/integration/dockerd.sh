#!/usr/bin/env bash
# Starts a real dockerd for the integration tests, or stops the one it started.
# A dockerd that was already running is used as it is and left running.
set -euo pipefail

state_dir=/run/shimwatch-test
pidfile="$state_dir/dockerd.pid"
log="$state_dir/dockerd.log"

docker_ready() { timeout 5 docker version >/dev/null 2>&1; }

case "${1:-}" in
start)
  mkdir -p "$state_dir"
  if docker_ready; then
    echo "dockerd: using the one already running"
    exit 0
  fi
  command -v dockerd >/dev/null || { echo "dockerd not installed (apt-get install docker.io)" >&2; exit 1; }
  # cgroupfs driver: the test machines have no systemd to hand scopes to.
  dockerd --pidfile "$pidfile" --exec-opt native.cgroupdriver=cgroupfs >"$log" 2>&1 &
  for _ in $(seq 1 60); do
    if docker_ready; then
      echo "dockerd: started (pid $(cat "$pidfile"))"
      exit 0
    fi
    sleep 0.5
  done
  echo "dockerd did not become ready in 30 s; its log:" >&2
  tail -n 40 "$log" >&2 || true
  exit 1
  ;;
stop)
  if [[ -f "$pidfile" ]]; then
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    echo "dockerd: stopped"
  else
    echo "dockerd: not started by the tests, left alone"
  fi
  ;;
*)
  echo "usage: $0 start|stop" >&2
  exit 2
  ;;
esac
