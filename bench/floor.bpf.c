// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// The floor of the agent benchmark: programs that do nothing, attached to the
// same tracepoints as the agent's default configuration. What they cost is
// what any tracepoint-based agent pays before doing any work, so the agent's
// own cost is measured against them, not against zero.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define FLOOR_PROGRAM(category, event)                                                             \
  SEC("tracepoint/" #category "/" #event)                                                          \
  int floor__##category##__##event(void *ctx) {                                                    \
    (void)ctx;                                                                                     \
    return 0;                                                                                      \
  }

FLOOR_PROGRAM(sched, sched_process_exec)
FLOOR_PROGRAM(syscalls, sys_enter_connect)
FLOOR_PROGRAM(syscalls, sys_exit_connect)
FLOOR_PROGRAM(sock, inet_sock_set_state)
FLOOR_PROGRAM(syscalls, sys_exit_openat)
FLOOR_PROGRAM(syscalls, sys_exit_open)
FLOOR_PROGRAM(syscalls, sys_exit_openat2)
FLOOR_PROGRAM(syscalls, sys_enter_rename)
FLOOR_PROGRAM(syscalls, sys_enter_renameat)
FLOOR_PROGRAM(syscalls, sys_enter_renameat2)
FLOOR_PROGRAM(syscalls, sys_exit_rename)
FLOOR_PROGRAM(syscalls, sys_exit_renameat)
FLOOR_PROGRAM(syscalls, sys_exit_renameat2)
