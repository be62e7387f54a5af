#!/usr/bin/env bash
# End-to-end test of the agent image on a real Docker Engine, without a
# cluster: builds deploy/Dockerfile (its base image made locally when the
# engine has none), then for each DaemonSet variant (the restricted overlay,
# then the privileged base) runs the image the way that DaemonSet runs it
# (host PID and network, the same capabilities, mounts, limits and the
# ConfigMap's config), starts a container in a kubelet-style pod cgroup that
# runs `docker ps` through the mounted Docker socket, and checks that the
# containerised agent reports it with the pod uid and container id, writes
# its audit log on the hostPath, serves /metrics and stops cleanly.
#   deploy/e2e/run-image-test.sh        (root, dockerd running)
# Environment: SHIMWATCH_IMAGE (default shimwatch:e2e), JOBS (build jobs),
# BUILD=0 tests an image already built under SHIMWATCH_IMAGE instead of
# building it. The image, its build stage (SHIMWATCH_IMAGE-build) and the base
# image are kept, which makes the next run quicker; the images an earlier run
# left behind are pruned.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
image="${SHIMWATCH_IMAGE:-shimwatch:e2e}"
jobs="${JOBS:-$(nproc)}"
# The privileged base first: on a node where nothing mounted a bpffs, its
# agent mounts one, which reaches the node (Bidirectional); the restricted
# overlay, which may not mount, then finds it there as on any systemd node.
variants=("" overlays/restricted)
start=$(date +%s)

say() { echo "run-image-test: $*"; }
die() {
  echo "run-image-test: FAIL: $*" >&2
  exit 1
}

[[ $EUID -eq 0 ]] || die "needs root (BPF, cgroups, dockerd)"
for tool in docker python3; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
timeout 10 docker version >/dev/null 2>&1 || die "no Docker Engine answers (tests/integration/dockerd.sh start)"

work=$(mktemp -d "/tmp/shimwatch-e2e-$$.XXXXXX")

# Everything a run makes carries its PID: the containers' label, the pin
# paths, the work directory and the last part of the pod uids.
pod_uid_prefix="0c2e5a0e-7d1b-4c55"
remove_run() {
  local owner=$1 id
  for id in $(docker ps -aq --filter "label=shimwatch.e2e.run=$owner"); do
    docker rm -f "$id" >/dev/null 2>&1 || true
  done
  # What `shimwatch cleanup` does: unpinning detaches the probes.
  rm -rf /sys/fs/bpf/shimwatch-e2e-"$owner"-* /tmp/shimwatch-e2e-"$owner".*
  # The pod cgroups docker made for the clients (cgroup v1 controllers and v2).
  find /sys/fs/cgroup -depth -type d -path "*/kubepods/burstable/pod$pod_uid_prefix-*-$(printf '%012x' "$owner")*" \
    -exec rmdir {} + 2>/dev/null || true
}
trap 'remove_run $$' EXIT

# What a run killed outright (ctest's timeout sends SIGKILL, so no trap runs)
# left behind; a live run's things are left alone.
for owner in $(
  {
    docker ps -a --filter label=shimwatch.e2e.run --format '{{.Label "shimwatch.e2e.run"}}'
    for stale in /sys/fs/bpf/shimwatch-e2e-* /tmp/shimwatch-e2e-*; do
      [[ -e $stale ]] || continue
      owner=${stale#*/shimwatch-e2e-}
      echo "${owner%%[.-]*}"
    done
  } | sort -u
); do
  if [[ $owner =~ ^[0-9]+$ ]] && ! kill -0 "$owner" 2>/dev/null; then
    say "removing what run $owner left: it was killed"
    remove_run "$owner"
  fi
done

if [[ ${BUILD:-1} == 0 ]]; then
  docker image inspect "$image" >/dev/null 2>&1 || die "BUILD=0 but there is no image $image"
  say "testing the image $image as it is (BUILD=0)"
else
  say "base image"
  "$repo/deploy/e2e/make-base-image.sh" debian:bookworm
  say "docker build -f deploy/Dockerfile -t $image (JOBS=$jobs)"
  build_start=$(date +%s)
  # The build stage is tagged too ($image-build), so that the next run reuses
  # its layers and the prune below removes only what this build replaced.
  for target in build ""; do
    if ! docker build ${target:+--target "$target"} --label shimwatch.e2e=1 -f "$repo/deploy/Dockerfile" \
      --build-arg "JOBS=$jobs" -t "$image${target:+-$target}" "$repo" >>"$work/build.log" 2>&1; then
      tail -n 40 "$work/build.log" >&2
      die "docker build failed"
    fi
  done
  say "image built in $(($(date +%s) - build_start)) s"
  docker image prune --force --filter label=shimwatch.e2e=1 >/dev/null || true
fi
say "image size: $(docker image inspect -f '{{.Size}}' "$image" | numfmt --to=iec)"

# The DaemonSet's container, as docker run arguments. Docker before 23 does
# not know CAP_BPF and CAP_PERFMON: then CAP_SYS_ADMIN (which includes both)
# stands in for them, and the rest of the set is as in the manifest.
translate=()
if ! docker run --rm --cap-drop ALL --cap-add BPF --cap-add PERFMON --entrypoint true "$image" >/dev/null 2>&1; then
  say "this engine does not know CAP_BPF/CAP_PERFMON: CAP_SYS_ADMIN stands in for them"
  translate=(--bpf-as-sys-admin)
fi
# Where this machine's own capability bounding set lacks some (as where it
# runs in a container itself), --privileged cannot start any container; the
# privileged variant then gets every capability there is, unconfined.
bounding=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
all_caps=$(((1 << ($(cat /proc/sys/kernel/cap_last_cap) + 1)) - 1))
if (((0x$bounding & all_caps) != all_caps)); then
  if docker run --rm --privileged --entrypoint true "$image" >/dev/null 2>&1; then
    say "the bounding set lacks capabilities (CapBnd $bounding), but --privileged works"
  else
    say "--privileged cannot start a container here (CapBnd $bounding): every capability this machine has stands in for it"
    translate+=(--privileged-as-capabilities)
  fi
fi

# One DaemonSet variant: its container run as docker run arguments, a pod's
# client, and the checks.
run_variant() {
  local index=$1
  local name=${2:-base}
  local variant="$repo/deploy/kubernetes/$2"
  local dir="$work/${name//\//-}"
  local agent="shimwatch-e2e-agent-$$-${name##*/}"
  local client="shimwatch-e2e-client-$$-${name##*/}"
  # Pinned on the node's bpffs as in a cluster, under a path of the test's own.
  local pin_path="/sys/fs/bpf/shimwatch-e2e-$$-${name##*/}"
  local pod_uid run_args port ready found client_id log_file code
  pod_uid="$pod_uid_prefix-$(printf '%04x' "$index")-$(printf '%012x' "$$")"
  mkdir -p "$dir"
  say "[$name] the DaemonSet of deploy/kubernetes/$2"

  mapfile -t run_args < <(python3 "$repo/tests/deploy/daemonset_to_docker.py" "${translate[@]}" "$variant" "$dir" "$dir/host")
  [[ ${#run_args[@]} -gt 0 ]] || die "could not translate the DaemonSet"
  for i in "${!run_args[@]}"; do
    [[ ${run_args[$i]} == @IMAGE@ ]] && run_args[$i]="$image"
  done
  # A free port instead of 9464, which a node agent may already hold here.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  say "docker run ${run_args[*]} --metrics-address 127.0.0.1:$port --pin-path $pin_path"
  docker run -d --name "$agent" --label shimwatch.e2e.run="$$" "${run_args[@]}" --metrics-address "127.0.0.1:$port" --pin-path "$pin_path" >/dev/null

  ready=""
  for _ in $(seq 1 120); do
    # Through a file: grep -q leaving early would fail docker logs (SIGPIPE)
    # and, under pipefail, the test.
    docker logs "$agent" >"$dir/agent.log" 2>&1 || true
    if grep -q " ready: " "$dir/agent.log"; then
      ready=yes
      break
    fi
    [[ $(docker inspect -f '{{.State.Running}}' "$agent") == true ]] || break
    sleep 0.5
  done
  if [[ -z $ready ]]; then
    docker logs "$agent" 2>&1 | tail -n 30 >&2
    die "the agent did not become ready"
  fi
  say "[$name] agent ready"
  [[ -n $(ls "$pin_path/links" 2>/dev/null) ]] || die "the agent in the container did not pin its probes on the node's bpffs ($pin_path)"
  say "probes pinned on the node's bpffs: $(ls "$pin_path/links" | wc -l) links under $pin_path"

  # A "pod" container of a kubelet-style cgroup (cgroupfs driver layout) that
  # talks to the Docker Engine through the node's socket: the docker CLI runs
  # inside it (an exec event) and connects (a socket event).
  say "client container in /kubepods/burstable/pod$pod_uid"
  client_id=$(docker create --name "$client" --label shimwatch.e2e.run="$$" \
    --cgroup-parent "/kubepods/burstable/pod$pod_uid" \
    --label io.kubernetes.pod.uid="$pod_uid" \
    --label io.kubernetes.pod.name=ci-runner-0 \
    --label io.kubernetes.pod.namespace=build \
    --label io.kubernetes.container.name=runner \
    -v /var/run/docker.sock:/var/run/docker.sock \
    -v "$(command -v docker)":/usr/local/bin/docker:ro \
    debian:bookworm docker ps --quiet)
  docker start -a "$client" >"$dir/client.out" 2>&1 || {
    cat "$dir/client.out" >&2
    die "the client container failed"
  }

  # The agent writes within 200 ms; give it a few seconds.
  found=""
  for _ in $(seq 1 40); do
    docker logs "$agent" 2>/dev/null >"$dir/events.jsonl" || true
    if python3 - "$dir/events.jsonl" "$client_id" "$pod_uid" <<'PY'; then
import json, sys
path, cid, uid = sys.argv[1:]
actions = set()
for line in open(path, encoding="utf-8"):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("container", {}).get("id") != cid:
        continue
    assert e["shimwatch"]["origin"]["type"] == "pod", e["shimwatch"]["origin"]
    assert e["kubernetes"]["pod"]["uid"] == uid, e.get("kubernetes")
    actions.add(e["event"]["action"])
sys.exit(0 if {"docker-cli-exec", "docker-socket-connect"} <= actions else 1)
PY
      found=yes
      break
    fi
    sleep 0.25
  done
  if [[ -z $found ]]; then
    tail -n 20 "$dir/events.jsonl" >&2
    docker logs "$agent" 2>&1 >/dev/null | tail -n 20 >&2
    die "no docker-cli-exec and docker-socket-connect events of container $client_id with pod uid $pod_uid"
  fi
  say "events of the pod's container reported, with pod uid and container id"

  # The audit log on the hostPath.
  log_file=$(find "$dir/host" -name '*.log' -type f | head -n 1)
  [[ -n $log_file ]] && grep -q "$client_id" "$log_file" || die "the audit log on the hostPath has no event of the container"
  say "audit log on the hostPath: $log_file"

  python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' \
    "http://127.0.0.1:$port/metrics" >"$dir/metrics.txt" || die "/metrics does not answer"
  grep -q '^shimwatch_events_total{.*origin_type="pod"' "$dir/metrics.txt" ||
    die "/metrics has no shimwatch_events_total of origin_type pod"
  for metric in shimwatch_build_info shimwatch_events_dropped_total shimwatch_enrichment_misses_total; do
    grep -q "^$metric" "$dir/metrics.txt" || die "/metrics has no $metric"
  done
  if command -v promtool >/dev/null; then
    promtool check metrics <"$dir/metrics.txt" >/dev/null 2>&1 || say "note: promtool check metrics has remarks"
  fi
  say "/metrics served"
  # The liveness probe's endpoint, as the kubelet would call it.
  python3 -c 'import sys, urllib.request; sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=10).status == 200 else 1)' \
    "http://127.0.0.1:$port/healthz" || die "/healthz does not answer 200"
  say "/healthz answers 200"

  docker stop -t 10 "$agent" >/dev/null
  code=$(docker inspect -f '{{.State.ExitCode}}' "$agent")
  [[ $code == 0 ]] || die "the agent exited $code on SIGTERM"
  # Its probes stay pinned (and attached) after it stops, as in a cluster;
  # detach them before the next variant.
  rm -rf "$pin_path"
  say "[$name] passed"
}

# The node's mounts propagate to containers' Bidirectional mounts only from
# a shared mount, as systemd leaves every mount; a bare machine (this one, a
# container) may have none: /sys/fs/bpf is then made a shared mount point of
# its own (bound on itself where nothing is mounted), and nothing mounted.
if ! grep -qE "^[0-9]+ [0-9]+ [^ ]+ [^ ]+ /sys/fs/bpf [^ ]+ .*shared:" /proc/self/mountinfo; then
  mountpoint -q /sys/fs/bpf || mount --bind /sys/fs/bpf /sys/fs/bpf
  mount --make-shared /sys/fs/bpf
  say "/sys/fs/bpf made a shared mount, as on a systemd node ($(stat -f -c %T /sys/fs/bpf) there now)"
fi

for i in "${!variants[@]}"; do
  run_variant "$i" "${variants[$i]}"
  # The privileged agent mounts the node's bpffs where none was: it must
  # have reached the node.
  [[ $(stat -f -c %T /sys/fs/bpf) == bpf_fs ]] || die "no bpffs on the node's /sys/fs/bpf after [${variants[$i]:-base}]"
done
say "PASS in $(($(date +%s) - start)) s"
