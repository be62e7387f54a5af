// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * shimwatch's probes, one program object. Filtering happens here: only the
 * calls that match reach user space, so workloads that never touch Docker
 * pay as little as the hooks allow. The families, in the order they build
 * on each other:
 *   core.bpf.h             ring buffer, scratch record, counters, fd lookups
 *   capture.bpf.h          the task's context into a record, and sending it
 *   exec.bpf.h             execs of watched binaries
 *   connect.bpf.h          connects to watched unix sockets and TCP ports
 *   config.bpf.h           opens and renames of Docker's configuration
 *   raw_tracepoints.bpf.h  the same probes on raw tracepoints, whose links
 *                          can be pinned on kernels before 5.15
 *   functions.bpf.h        connect, open and rename on the kernel functions
 *                          behind the syscalls (fentry/fexit): no syscall
 *                          tracepoint, and io_uring and 32-bit calls seen
 * The record layout and map keys shared with the agent are in events.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include "events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#include "core.bpf.h"
#include "capture.bpf.h"
#include "exec.bpf.h"
#include "connect.bpf.h"
#include "config.bpf.h"
#include "raw_tracepoints.bpf.h"
#include "functions.bpf.h"
