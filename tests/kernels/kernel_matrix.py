#!/usr/bin/env python3
"""The kernel matrix: the agent's cases on Debian's 5.10, 6.1 and 6.12 kernels
booted under QEMU, and on this machine's kernel.

  kernel_matrix.py --build-dir BUILD [--kernels 5.10,6.1,6.12,host] [--jobs N]
  kernel_matrix.py --fetch-only          download and prepare the kernels
  kernel_matrix.py --available           what Debian's archive has now, to pin

Each kernel in kernels.json is fetched once into .tools/kernels/ (a private apt
configuration, `apt-get download` of the pinned version, its SHA-256 checked)
with an initramfs (busybox, the kernel's virtio and 9p modules,
initramfs-init.sh). Each VM mounts this machine's root read-only over
virtio-9p and runs run-cases.sh: `shimwatch check` and the cases of
kernel_cases_test.cpp, on a node of its own. On this machine the same script
runs in a private mount namespace. Prints a table per kernel (hooks in use,
cases passed, instructions the verifier processed per program); exits 1 if any
kernel fails. No KVM here: QEMU emulates (TCG), a few minutes per kernel.
"""

import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CACHE = os.path.join(REPO, ".tools", "kernels")
ARCHIVE = "http://deb.debian.org/debian"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# Modules the initramfs loads (with what they depend on): virtio-pci for the
# devices, 9p over virtio for the root.
MODULES = ["virtio_pci", "9pnet_virtio", "9p"]
VM_SECONDS = 1500


def say(text):
    print(f"kernel-matrix: {text}", flush=True)


def load_kernels():
    with open(os.path.join(HERE, "kernels.json"), encoding="utf-8") as f:
        return json.load(f)["kernels"]


# --- fetching ---------------------------------------------------------------


def apt_options(suites):
    """apt options for a configuration of our own under .tools/kernels/apt."""
    root = os.path.join(CACHE, "apt")
    for sub in ("lists/partial", "cache/archives/partial"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    sources = os.path.join(root, "sources.list")
    with open(sources, "w", encoding="utf-8") as f:
        for suite in sorted(suites):
            f.write(f"deb [signed-by={KEYRING}] {ARCHIVE} {suite} main\n")
    return [
        "-o", f"Dir::Etc::sourcelist={sources}", "-o", "Dir::Etc::sourceparts=-",
        "-o", f"Dir::State::Lists={root}/lists", "-o", f"Dir::Cache={root}/cache",
        "-o", "Dir::State::status=/dev/null", "-o", "APT::Sandbox::User=root",
        "-o", "Debug::NoLocking=1",
    ]


def apt_update(options):
    r = subprocess.run(["apt-get", *options, "update"], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"kernel-matrix: apt-get update failed:\n{r.stdout}{r.stderr}")


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def kernel_dir(kernel):
    return os.path.join(CACHE, f"{kernel['package']}_{kernel['version']}")


def prepared(kernel):
    d = kernel_dir(kernel)
    stamp = os.path.join(d, "sha256")
    return (os.path.exists(os.path.join(d, "vmlinuz")) and os.path.exists(os.path.join(d, "initrd.gz"))
            and os.path.exists(stamp) and open(stamp, encoding="utf-8").read().strip() == kernel["sha256"])


def find_module(tree, name):
    for root, _, files in os.walk(tree):
        for f in files:
            base = re.sub(r"\.ko(\.xz|\.zst)?$", "", f)
            if base != f and base.replace("-", "_") == name.replace("-", "_"):
                return os.path.join(root, f)
    return None


def modules_in_load_order(tree):
    """The module files MODULES need, dependencies first; built-ins are skipped."""
    order, seen = [], set()

    def add(name):
        if name in seen:
            return
        seen.add(name)
        path = find_module(tree, name)
        if path is None:
            return  # built into the kernel
        depends = subprocess.run(["modinfo", "-F", "depends", path], capture_output=True, text=True,
                                 check=True).stdout.strip()
        for dep in filter(None, depends.split(",")):
            add(dep)
        order.append(path)

    for name in MODULES:
        add(name)
    return order


def build_initramfs(tree, out):
    with tempfile.TemporaryDirectory() as root:
        for sub in ("bin", "proc", "sys", "dev", "root", "modules"):
            os.makedirs(os.path.join(root, sub))
        busybox = shutil.which("busybox") or "/bin/busybox"
        shutil.copy(busybox, os.path.join(root, "bin", "busybox"))
        shutil.copy(os.path.join(HERE, "initramfs-init.sh"), os.path.join(root, "init"))
        os.chmod(os.path.join(root, "init"), 0o755)
        for i, path in enumerate(modules_in_load_order(tree)):
            target = os.path.join(root, "modules", f"{i:02d}-{os.path.basename(path).split('.ko')[0]}.ko")
            with open(target, "wb") as f:
                if path.endswith(".xz"):
                    subprocess.run(["xz", "-dc", path], stdout=f, check=True)
                elif path.endswith(".zst"):
                    subprocess.run(["zstd", "-dcq", path], stdout=f, check=True)
                else:
                    shutil.copyfileobj(open(path, "rb"), f)
        files = subprocess.run(["find", "."], cwd=root, capture_output=True, text=True, check=True).stdout
        with open(out, "wb") as f:
            cpio = subprocess.Popen(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE)
            gzip = subprocess.Popen(["gzip", "-1"], stdin=cpio.stdout, stdout=f)
            cpio.stdout.close()
            cpio.communicate(files.encode())
            if gzip.wait() != 0 or cpio.returncode != 0:
                raise SystemExit("kernel-matrix: building the initramfs failed")


def fetch(kernels):
    missing = [k for k in kernels if not prepared(k)]
    if not missing:
        return
    options = apt_options({k["suite"] for k in missing})
    say("apt-get update (private configuration under .tools/kernels/apt)")
    apt_update(options)
    debs = os.path.join(CACHE, "debs")
    os.makedirs(debs, exist_ok=True)
    for kernel in missing:
        spec = f"{kernel['package']}={kernel['version']}"
        deb = os.path.join(debs, f"{kernel['package']}_{kernel['version']}_amd64.deb".replace(":", "%3a"))
        if not os.path.exists(deb) or sha256_of(deb) != kernel["sha256"]:
            say(f"downloading {spec} ({kernel['suite']})")
            r = subprocess.run(["apt-get", *options, "download", spec], cwd=debs, capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(
                    f"kernel-matrix: {spec} cannot be downloaded ({r.stderr.strip()}).\n"
                    f"  A point release of {kernel['suite']} may have replaced it: "
                    f"`{sys.argv[0]} --available` lists what the archive has now, to pin in kernels.json.")
        digest = sha256_of(deb)
        if digest != kernel["sha256"]:
            raise SystemExit(f"kernel-matrix: {deb} has SHA-256 {digest}, kernels.json pins {kernel['sha256']}")
        d = kernel_dir(kernel)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        with tempfile.TemporaryDirectory(dir=CACHE) as tree:
            subprocess.run(["dpkg-deb", "-x", deb, tree], check=True)
            images = [os.path.join(tree, "boot", f) for f in os.listdir(os.path.join(tree, "boot"))
                      if f.startswith("vmlinuz-")]
            if len(images) != 1:
                raise SystemExit(f"kernel-matrix: {deb} has {len(images)} kernel images")
            shutil.copy(images[0], os.path.join(d, "vmlinuz"))
            build_initramfs(tree, os.path.join(d, "initrd.gz"))
        with open(os.path.join(d, "sha256"), "w", encoding="utf-8") as f:
            f.write(kernel["sha256"] + "\n")
        os.unlink(deb)  # the kernel and initramfs are all the cache keeps
        say(f"prepared {kernel['name']}: {d}")


def available(kernels):
    """What each suite has now (the generic flavour): versions and checksums to pin."""
    for kernel in kernels:
        options = apt_options({kernel["suite"]})
        apt_update(options)
        series = ".".join(kernel["version"].split(".")[:2])  # 5.10 / 6.1 / 6.12
        names = subprocess.run(["apt-cache", *options, "search", "--names-only",
                                f"^linux-image-{re.escape(series)}[.-].*-amd64-unsigned$"],
                               capture_output=True, text=True).stdout
        for package in sorted(line.split(" ")[0] for line in names.splitlines() if line):
            if "-cloud-" in package or "-rt-" in package:
                continue
            show = subprocess.run(["apt-cache", *options, "show", package], capture_output=True,
                                  text=True).stdout
            for record in show.split("\n\n"):
                fields = dict(re.findall(r"^(Version|SHA256): (.*)$", record, re.M))
                if fields:
                    print(f"{kernel['name']:5} {kernel['suite']:9} {package} {fields['Version']} "
                          f"{fields['SHA256']}")


# --- running ----------------------------------------------------------------


def run_logged(command, log_path):
    """command with its output (a VM's console) in log_path, bounded in time."""
    with open(log_path, "wb") as log:
        try:
            subprocess.run(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                           timeout=VM_SECONDS)
        except subprocess.TimeoutExpired:
            log.write(f"\n@@ error: did not finish within {VM_SECONDS} s\n".encode())


def run_vm(kernel, build_dir, log_path, script=None):
    """script (run-cases.sh by default) with build_dir, as root in a VM of kernel."""
    script = script or os.path.join(HERE, "run-cases.sh")
    d = kernel_dir(kernel)
    command = [
        "qemu-system-x86_64", "-machine", "q35", "-cpu", "max", "-m", "2048", "-smp", "1",
        "-nographic", "-no-reboot", "-nic", "none",
        "-kernel", os.path.join(d, "vmlinuz"), "-initrd", os.path.join(d, "initrd.gz"),
        "-append", f"console=ttyS0 loglevel=1 edd=off panic=-1 sw.script={script} "
                   f"sw.build={build_dir}",
        "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
    ]
    run_logged(command, log_path)


def run_host(build_dir, log_path):
    # This machine's kernel, on a node of its own: a private mount namespace.
    command = ["unshare", "--mount", "--propagation", "private", "/bin/sh",
               os.path.join(HERE, "run-cases.sh"), build_dir]
    run_logged(command, log_path)


def parse(log_path):
    text = open(log_path, encoding="utf-8", errors="replace").read().replace("\r", "")
    result = {"kernel": "?", "hooks": "?", "passed": [], "failed": [], "verifier": {}, "errors": [],
              "check_ok": False, "cases_ok": False}
    m = re.search(r"^@@ kernel (\S+)", text, re.M)
    if m:
        result["kernel"] = m.group(1)
    # The hooks of the default set, and of a pinned agent's (a DaemonSet's).
    sets = re.findall(r"^\[ ok \] attach: loaded and attached \(hooks in use: ([^)]*)\)", text, re.M)

    def describe(points):
        points = points.split(", ")
        exec_hook = "tp_btf" if "tp_btf/sched_process_exec" in points else "tracepoint"
        syscalls = ("functions" if "fexit/__sys_connect_file" in points
                    else "raw_tp" if "raw_tp/sys_enter" in points else "tracepoints")
        return f"exec {exec_hook}, syscalls {syscalls}"

    if len(sets) >= 4:  # default, classic, raw, pinned
        pinned = describe(sets[3])
        result["hooks"] = describe(sets[0]) + ("" if pinned == describe(sets[0]) else f" (pinned: {pinned})")
    # Every check's counts: the default set's, the classic and the raw
    # tracepoint set's.
    for m in re.finditer(r"^\[ ok \] verifier: [^:]*: (.*)$", text, re.M):
        for item in m.group(1).split(", "):
            name, _, count = item.rpartition(" ")
            result["verifier"][name] = int(count)
    result["check_ok"] = all(re.search(rf"^@@ check{kind} exit 0$", text, re.M) is not None
                             for kind in ("", " classic", " raw", " pinned"))
    result["cases_ok"] = re.search(r"^@@ cases exit 0$", text, re.M) is not None
    result["passed"] = re.findall(r"^\[       OK \] (\S+)", text, re.M)
    result["failed"] = sorted(set(re.findall(r"^\[  FAILED  \] (\S+?)(?:,| \(|$)", text, re.M)))
    result["errors"] = re.findall(r"^@@ error: (.*)$", text, re.M)
    result["fail_lines"] = [line for line in text.split("\n") if line.startswith("[FAIL]")]
    result["ok"] = result["check_ok"] and result["cases_ok"] and not result["failed"] and bool(result["passed"])
    return result


def short(program):
    return (program.replace("tracepoint__syscalls__", "").replace("tracepoint__", "")
            .replace("tp_btf__", "tp_btf:").replace("fentry__", "fentry:").replace("fexit__", "fexit:"))


def print_table(rows):
    print()
    print(f"{'kernel':<24} {'hooks':<58} {'cases':<7} verifier: instructions processed per program "
          "(budget 1,000,000 each)")
    for name, r in rows:
        cases = f"{len(r['passed'])}/{len(r['passed']) + len(r['failed'])}"
        programs = sorted(r["verifier"].items(), key=lambda kv: -kv[1])
        verifier = ", ".join(f"{short(p)} {n}" for p, n in programs) or "-"
        label = f"{name} {r['kernel']}" if name != "host" else f"host {r['kernel']}"
        status = "" if r["ok"] else "  FAILED"
        print(f"{label:<24} {r['hooks']:<58} {cases:<7} {verifier}{status}")
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=os.path.join(REPO, "build"))
    parser.add_argument("--kernels", default="5.10,6.1,6.12,host",
                        help="comma-separated names from kernels.json, and host for this machine's")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="VMs run at once")
    parser.add_argument("--fetch-only", action="store_true")
    parser.add_argument("--available", action="store_true")
    args = parser.parse_args()

    if os.geteuid() != 0:
        raise SystemExit("kernel-matrix: needs root (BPF, mounts)")
    kernels = load_kernels()
    if args.available:
        available(kernels)
        return 0
    wanted = [n for n in args.kernels.split(",") if n]
    known = {k["name"]: k for k in kernels}
    for name in wanted:
        if name != "host" and name not in known:
            raise SystemExit(f"kernel-matrix: unknown kernel {name} (kernels.json has {', '.join(known)})")
    vms = [known[n] for n in wanted if n != "host"]
    started = time.monotonic()
    fetch(vms)
    say(f"kernels ready in {time.monotonic() - started:.0f} s")
    if args.fetch_only:
        return 0

    build_dir = os.path.abspath(args.build_dir)
    for binary in ("shimwatch", "tests/shimwatch_kernel_cases", "tests/sw_test_connect"):
        if not os.access(os.path.join(build_dir, binary), os.X_OK):
            raise SystemExit(f"kernel-matrix: {build_dir}/{binary} is missing: build first (make build)")
    logs = os.path.join(build_dir, "kernel-matrix")
    os.makedirs(logs, exist_ok=True)

    def one(name):
        log_path = os.path.join(logs, f"{name}.log")
        t0 = time.monotonic()
        if name == "host":
            run_host(build_dir, log_path)
        else:
            run_vm(known[name], build_dir, log_path)
        say(f"{name}: done in {time.monotonic() - t0:.0f} s (log: {log_path})")
        return name, parse(log_path)

    # Each VM takes one core, --jobs at a time; the host's row runs beside them.
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as vm_pool, \
            concurrent.futures.ThreadPoolExecutor(max_workers=1) as host_pool:
        futures = [(host_pool if n == "host" else vm_pool).submit(one, n) for n in wanted]
        rows = [f.result() for f in futures]

    print_table(rows)
    for name, r in rows:
        if not r["ok"]:
            say(f"{name} FAILED: check {'passed' if r['check_ok'] else 'failed'}, "
                f"cases failed: {', '.join(r['failed']) or '-'}; errors: {'; '.join(r['errors']) or '-'}")
            for line in r["fail_lines"]:
                say(f"  {line}")
            say(f"  the whole output: {os.path.join(logs, name + '.log')}")
            tail = open(os.path.join(logs, name + ".log"), encoding="utf-8", errors="replace").read()[-6000:]
            print(tail)
    with open(os.path.join(logs, "results.json"), "w", encoding="utf-8") as f:
        json.dump({name: r for name, r in rows}, f, indent=2)
    passed = sum(r["ok"] for _, r in rows)
    say(f"{passed} of {len(rows)} kernels passed in {time.monotonic() - started:.0f} s")
    return 0 if passed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
