#!/usr/bin/env python3
"""What the agent costs calls that are not Docker's, per set of kernel hooks.

Boots the kernel matrix's Debian kernels (tests/kernels/kernel_matrix.py:
the same packages, initramfs and read-only root) and runs
bench/kernel_hooks_bench.sh in each: per round, with no agent, with the
agent on classic tracepoints (--hooks tracepoints) and with its default
hooks (kernel functions where the kernel allows them), the cost of a
getpid() (the syscall tax: no probe matches it, but any syscall tracepoint
moves every task to the slower syscall path), of an open and of an
unwatched unix connect. Each VM has one core and runs under emulation
(TCG, no KVM here): absolute figures mean little, the ratios to no agent in
the same round are the result. The tracepoint configuration is the
control: where it shows no syscall tax, the run cannot tell one either.

Usage (root; make bench builds the loop binary):
  kernel_hooks_bench.py [--build-dir build] [--kernels 5.10,6.1,6.12]
Prints a table per kernel (median of the per-round ratios, with min-max)
and writes build/kernel-hooks-bench/results.json.
"""

import argparse
import concurrent.futures
import json
import os
import re
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "kernels"))
import kernel_matrix  # noqa: E402  (the matrix's kernels, fetch and VM runner)

WORKLOADS = ("getpid", "open", "connect")
CONFIGS = ("tracepoints", "auto")


def parse(log_path):
    text = open(log_path, encoding="utf-8", errors="replace").read().replace("\r", "")
    kernel = re.search(r"^@@ kernel (\S+)", text, re.M)
    hooks = dict(re.findall(r"^@@ hooks (\S+) kernel hooks: (.*)$", text, re.M))
    ns = {}  # (round, config, workload) -> ns per call
    for m in re.finditer(r"^@@ bench (\d+) (\S+) (\S+) ([0-9.]+)$", text, re.M):
        ns[(int(m.group(1)), m.group(2), m.group(3))] = float(m.group(4))
    rows = {}
    for workload in WORKLOADS:
        rounds = sorted({r for (r, c, w) in ns if w == workload and c == "none"})
        row = {"none_ns": statistics.median(ns[(r, "none", workload)] for r in rounds) if rounds
               else None}
        for config in CONFIGS:
            ratios = [ns[(r, config, workload)] / ns[(r, "none", workload)] for r in rounds
                      if (r, config, workload) in ns and ns[(r, "none", workload)] > 0]
            row[config] = ({"median": statistics.median(ratios), "min": min(ratios),
                            "max": max(ratios), "rounds": len(ratios)} if ratios else None)
        rows[workload] = row
    done = re.search(r"^@@ bench done$", text, re.M) is not None
    errors = re.findall(r"^@@ error: (.*)$", text, re.M)
    return {"kernel": kernel.group(1) if kernel else "?", "hooks": hooks, "workloads": rows,
            "ok": done and not errors, "errors": errors}


def ratio(cell):
    if not cell:
        return "-"
    return f"x{cell['median']:.2f} [x{cell['min']:.2f}-x{cell['max']:.2f}]"


def print_tables(results):
    for name, r in results:
        functions = "fexit/__sys_connect_file" in r["hooks"].get("auto", "")
        print(f"\n{name} {r['kernel']}: default hooks = "
              f"{'kernel functions' if functions else 'tracepoints'}"
              f"{'' if r['ok'] else '  FAILED: ' + '; '.join(r['errors'])}")
        print("| call | no agent | --hooks tracepoints | default (auto) |")
        print("| --- | --- | --- | --- |")
        for workload in WORKLOADS:
            row = r["workloads"][workload]
            none = f"{row['none_ns']:.0f} ns" if row["none_ns"] else "-"
            print(f"| {workload} | {none} | {ratio(row['tracepoints'])} | {ratio(row['auto'])} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=os.path.join(REPO, "build"))
    parser.add_argument("--kernels", default="5.10,6.1,6.12")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="VMs run at once")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("kernel-hooks-bench: needs root (BPF, mounts)")
    build_dir = os.path.abspath(args.build_dir)
    for binary in ("shimwatch", "agent-bench/bench/shimwatch_syscall_cost"):
        if not os.access(os.path.join(build_dir, binary), os.X_OK):
            raise SystemExit(f"kernel-hooks-bench: {build_dir}/{binary} is missing: run make bench")
    known = {k["name"]: k for k in kernel_matrix.load_kernels()}
    wanted = [n for n in args.kernels.split(",") if n]
    for name in wanted:
        if name not in known:
            raise SystemExit(f"kernel-hooks-bench: unknown kernel {name}")
    kernel_matrix.fetch([known[n] for n in wanted])
    logs = os.path.join(build_dir, "kernel-hooks-bench")
    os.makedirs(logs, exist_ok=True)
    script = os.path.join(HERE, "kernel_hooks_bench.sh")

    def one(name):
        log_path = os.path.join(logs, f"{name}.log")
        t0 = time.monotonic()
        kernel_matrix.run_vm(known[name], build_dir, log_path, script)
        kernel_matrix.say(f"{name}: done in {time.monotonic() - t0:.0f} s (log: {log_path})")
        return name, parse(log_path)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(one, wanted))
    print_tables(results)
    with open(os.path.join(logs, "results.json"), "w", encoding="utf-8") as f:
        json.dump(dict(results), f, indent=2)
    return 0 if all(r["ok"] for _, r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
