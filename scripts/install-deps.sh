#!/usr/bin/env bash
# Installs the Debian 12 packages shimwatch needs, and only those missing.
#   scripts/install-deps.sh build   compilers, libbpf, bpftool, libraries
#   scripts/install-deps.sh test    build + what the tests run against (dockerd),
#                                   and kubectl, helm and the Kubernetes API
#                                   schemas in .tools/, which Debian does not
#                                   package (fetch-kube-tools.py)
set -euo pipefail

build_packages=(
  cmake make g++ pkg-config git
  clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev
  libspdlog-dev nlohmann-json3-dev prometheus-cpp-dev libcurl4-openssl-dev libssl-dev
  libyaml-cpp-dev # manifests for `shimwatch scan`
  libseccomp-dev # the running agent's system call allow-list
  libcli11-dev # one command-line parser (CLI11, header-only) for run, check, cleanup, report, scan
  libgtest-dev
  libclang-rt-14-dev # libFuzzer and the sanitizer runtimes for clang (fuzz/)
  libfuse3-dev # a test helper: a FUSE file system that hangs its readers
  clang-tidy # the curated checks of .clang-tidy, run by `make test`
)
test_packages=(
  docker.io # a real dockerd and docker CLI for the integration tests
  python3 openssl # the stand-in Kubernetes API server (HTTPS) in the tests
  rsyslog rsyslog-gnutls # a real syslog peer (UDP, TCP, TLS) for the output tests
  prometheus # a real Prometheus server and promtool for the metrics tests
  chromium # renders the HTML report headless in the report tests
  jq # the baseline the report benchmark is measured against
  python3-yaml # renders and checks the manifests in deploy/ (tests/deploy)
  qemu-system-x86 busybox-static cpio # the kernel matrix's VMs (tests/kernels)
)

case "${1:-build}" in
build) wanted=("${build_packages[@]}") ;;
test) wanted=("${build_packages[@]}" "${test_packages[@]}") ;;
*)
  echo "usage: $0 build|test" >&2
  exit 2
  ;;
esac

missing=()
for package in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
# node and npm for the Kubernetes API schemas of the deploy tests; a node
# installed some other way (NodeSource, which bundles npm) is kept.
if [[ ${1:-build} == test ]] && ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
if [[ ${#missing[@]} -gt 0 ]]; then
  if [[ $EUID -ne 0 ]]; then
    echo "shimwatch: missing packages: ${missing[*]}" >&2
    echo "  run as root, or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [[ ${1:-build} == test ]]; then
  python3 "$(dirname "${BASH_SOURCE[0]}")/fetch-kube-tools.py"
fi
