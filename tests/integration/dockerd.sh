#!/usr/bin/env bash
# Starts a real dockerd for the integration tests, or stops the one it started.
# A dockerd that was already running is used as it is and left running. Runs
# that overlap (a test run and `make e2e-image`) share the one the first of
# them started: it is counted in and out, and stopped by the last.
set -euo pipefail

state_dir=/run/shimwatch-test
pidfile="$state_dir/dockerd.pid"
users="$state_dir/dockerd.users"
log="$state_dir/dockerd.log"

docker_ready() { timeout 5 docker version >/dev/null 2>&1; }
users_now() { cat "$users" 2>/dev/null || echo 0; }

mkdir -p "$state_dir"
exec 9>"$state_dir/lock"
flock 9

case "${1:-}" in
start)
  if docker_ready; then
    if [[ -f "$pidfile" ]]; then
      echo $(($(users_now) + 1)) >"$users"
      echo "dockerd: using the one another test run started"
    else
      echo "dockerd: using the one already running"
    fi
    exit 0
  fi
  command -v dockerd >/dev/null || { echo "dockerd not installed (apt-get install docker.io)" >&2; exit 1; }
  # cgroupfs driver: the test machines have no systemd to hand scopes to.
  # Not holding the lock (fd 9) for its whole life.
  dockerd --pidfile "$pidfile" --exec-opt native.cgroupdriver=cgroupfs >"$log" 2>&1 9>&- &
  for _ in $(seq 1 60); do
    if docker_ready; then
      echo 1 >"$users"
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
  if [[ -f "$pidfile" ]] && (($(users_now) > 1)); then
    echo $(($(users_now) - 1)) >"$users"
    echo "dockerd: still used by another test run, left running"
  elif [[ -f "$pidfile" ]]; then
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile" "$users"
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
