#!/bin/sh
# The kernel matrix's cases on one kernel, as root on a node of their own:
# inside a VM (initramfs-init.sh) or, on this machine, in a private mount
# namespace (kernel_matrix.py). Writable tmpfs over /tmp, /run and
# /etc/docker; no bpffs, tracefs or debugfs mounted, as on a fresh node.
# Prints "@@ " lines that kernel_matrix.py reads.
#   run-cases.sh BUILD_DIR
build=$1
for dir in /tmp /run /etc/docker; do
	mount -t tmpfs -o mode=0755 tmpfs "$dir" || { echo "@@ error: cannot mount tmpfs on $dir"; exit 1; }
done
chmod 1777 /tmp
for fs in /sys/fs/bpf /sys/kernel/tracing /sys/kernel/debug/tracing /sys/kernel/debug; do
	while mountpoint -q "$fs"; do umount -l "$fs" || exit 1; done
done
# A line of its own: the console may still hold the boot messages.
echo
echo "@@ kernel $(uname -r)"
echo "@@ check begin"
"$build/shimwatch" check
echo "@@ check exit $?"
# The classic tracepoint set, which the agent loads where kernel functions
# are refused: its programs' verifier counts.
echo "@@ check classic begin"
"$build/shimwatch" check --hooks tracepoints
echo "@@ check classic exit $?"
# The raw tracepoint set, which the agent loads where pinned links need it:
# its programs' verifier counts.
echo "@@ check raw begin"
"$build/shimwatch" check --hooks raw-tracepoints
echo "@@ check raw exit $?"
# What a pinned agent (a DaemonSet) loads here.
echo "@@ check pinned begin"
"$build/shimwatch" check --pin-path /sys/fs/bpf/shimwatch-matrix-check
echo "@@ check pinned exit $?"
echo "@@ cases begin"
"$build/tests/shimwatch_kernel_cases" --gtest_color=no
echo "@@ cases exit $?"
