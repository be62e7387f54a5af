# shimwatch: `make run` and `make test` do all the set-up on Debian 12 (as root).
BUILD_DIR ?= build
# Unit tests also run under AddressSanitizer + UndefinedBehaviorSanitizer.
SANITIZE_DIR ?= build-sanitize
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
# Extra flags for `make run`, e.g. make run ARGS="--watch-exec nerdctl"
ARGS ?=
# Extra CMake configure flags, e.g. CMAKE_ARGS=-DSHIMWATCH_BUILD_TESTS=OFF
CMAKE_ARGS ?=

.PHONY: all build deps test-deps run test unit-test sanitize-test integration-test lint test-kernels format clean

all: build

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test

build: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS)

# The agent with its embedded default config: JSON lines on stdout, metrics on
# 127.0.0.1:9464. Ctrl-C stops it.
run: build
	$(BUILD_DIR)/shimwatch run --format json $(ARGS)

# Every test: unit tests under sanitizers, then unit, integration, deployment
# and image tests (root, real BPF; they start and stop their own dockerd), then
# the fuzz targets' smoke runs.
test: test-deps build sanitize-test fuzz-build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS)
	cd $(FUZZ_DIR) && ctest --output-on-failure -L fuzz -j$(JOBS)

sanitize-test: deps
	@cmake -S . -B $(SANITIZE_DIR) -DCMAKE_BUILD_TYPE=Debug -DSHIMWATCH_SANITIZE=ON >/dev/null
	@cmake --build $(SANITIZE_DIR) -j$(JOBS) --target shimwatch_unit_tests
	cd $(SANITIZE_DIR) && ctest --output-on-failure -L unit -j$(JOBS)

unit-test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L unit -j$(JOBS)

# clang-tidy (.clang-tidy's checks) on src/ and the shape of the integration
# tests (tests/lint); `make test` runs them too.
lint: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L lint -j$(JOBS)

integration-test: test-deps build
	cd $(BUILD_DIR) && ctest --output-on-failure -L integration

# The kernel matrix alone: Debian's 5.10, 6.1 and 6.12 kernels booted under
# QEMU, and this machine's, each running the agent's cases (tests/kernels).
test-kernels: test-deps build
	cd $(BUILD_DIR) && ctest --output-on-failure -L kernels

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp' '*.h' '*.c')

clean:
	rm -rf $(BUILD_DIR) $(SANITIZE_DIR) $(FUZZ_DIR)

# `shimwatch report` against a jq pipeline on generated logs (1 GiB by default;
# REPORT_BENCH_MIB=200 make bench for a quicker run), then the agent's cost on
# the node: no agent / empty BPF programs / shimwatch / auditd, interleaved
# (bench/agent_bench.sh; root; BENCH_ROUNDS=3 BENCH_SECONDS=0.5 make bench for
# a quicker run), and what calls that are not Docker's pay per set of kernel
# hooks in the kernel matrix's VMs (bench/kernel_hooks_bench.py). Not part of
# `make test`.
BENCH_BUILD_DIR ?= $(BUILD_DIR)/agent-bench
BENCH_ROUNDS ?= 10
BENCH_SECONDS ?= 1
.PHONY: bench
bench: build
	bench/report_bench.sh $(BUILD_DIR)/shimwatch
	@cmake -S . -B $(BENCH_BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSHIMWATCH_BUILD_TESTS=OFF \
		-DSHIMWATCH_BUILD_BENCH=ON $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BENCH_BUILD_DIR) -j$(JOBS) --target shimwatch_agent_bench shimwatch_syscall_cost
	BENCH_ROUNDS=$(BENCH_ROUNDS) BENCH_SECONDS=$(BENCH_SECONDS) \
		bench/agent_bench.sh $(BUILD_DIR)/shimwatch $(BENCH_BUILD_DIR)/bench/shimwatch_agent_bench
	python3 bench/kernel_hooks_bench.py --build-dir $(BUILD_DIR)

# The agent image, built from deploy/Dockerfile and run on the local Docker
# Engine the way the DaemonSet runs it (deploy/e2e/run-image-test.sh). `make
# test` runs the same script as the test e2e.image.
.PHONY: e2e-image
e2e-image: test-deps
	@tests/integration/dockerd.sh start
	@JOBS=$(JOBS) deploy/e2e/run-image-test.sh; rc=$$?; tests/integration/dockerd.sh stop; exit $$rc

# libFuzzer targets (fuzz/, clang): only the parsers' sources, built again with
# ASan + UBSan. `make test` runs each for SHIMWATCH_FUZZ_SECONDS (10 s); `make
# fuzz` runs each for FUZZ_SECONDS from a copy of its seed corpus
# (fuzz/corpus/<target>/); a crash stops it and leaves the input in
# $(FUZZ_DIR)/fuzz-runs/<target>/crash-*.
FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := cgroup_path config decode_event kubernetes report_line scan_manifest process_name

.PHONY: fuzz fuzz-build
fuzz-build: deps
	@CC=clang CXX=clang++ cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=Debug -DSHIMWATCH_FUZZ=ON \
	  -DSHIMWATCH_BUILD_TESTS=OFF >/dev/null
	@cmake --build $(FUZZ_DIR) -j$(JOBS) --target fuzzers

fuzz: fuzz-build
	@for target in $(FUZZ_TARGETS); do \
	  echo "fuzz: $$target for $(FUZZ_SECONDS) s"; \
	  fuzz/run_fuzzer.sh $(FUZZ_DIR)/fuzz/$${target}_fuzzer fuzz/corpus/$$target $(FUZZ_SECONDS) \
	    $(abspath $(FUZZ_DIR))/fuzz-runs/$$target >$(FUZZ_DIR)/fuzz-$$target.log 2>&1 || \
	    { tail -n 60 $(FUZZ_DIR)/fuzz-$$target.log; exit 1; }; \
	  grep -h "^#.*DONE" $(FUZZ_DIR)/fuzz-$$target.log; \
	done
