// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The raw tracepoint set: every link of these can be pinned on any kernel
 * with BPF ring buffers, while a classic tracepoint's link can be pinned only
 * from Linux 5.15 on (BPF perf-event links). The agent loads these where it
 * must pin and the kernel is older. The syscall programs run for every
 * syscall on the node and leave at once for all but the watched ones.
 */
#ifndef SHIMWATCH_RAW_TRACEPOINTS_BPF_H
#define SHIMWATCH_RAW_TRACEPOINTS_BPF_H

/* This architecture's numbers of the watched syscalls (-1: it has none),
 * set by the agent before load. */
const volatile long nr_connect = -1;
const volatile long nr_open = -1;
const volatile long nr_openat = -1;
const volatile long nr_openat2 = -1;
const volatile long nr_rename = -1;
const volatile long nr_renameat = -1;
const volatile long nr_renameat2 = -1;

/* A 32-bit task's syscalls come with numbers of their own, which the
 * classic syscall tracepoints skip too. */
static __always_inline bool syscall__compat(void)
{
#if defined(__TARGET_ARCH_x86)
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	/* TS_COMPAT: the task is in a 32-bit syscall. */
	return BPF_CORE_READ(task, thread_info.status) & 0x0002;
#else
	return false;
#endif
}

/* The number of the syscall that regs belong to. */
static __always_inline long syscall__nr(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
	return BPF_CORE_READ(regs, orig_ax);
#elif defined(__TARGET_ARCH_arm64)
	return BPF_CORE_READ(regs, syscallno);
#else
#error "syscall__nr: unsupported architecture"
#endif
}

SEC("raw_tp/sys_enter")
int BPF_PROG(raw_tp__sys_enter, struct pt_regs *regs, long id)
{
	if (id != nr_connect && id != nr_rename && id != nr_renameat && id != nr_renameat2)
		return 0;
	if (syscall__compat() || !agent__active())
		return 0;
	if (id == nr_connect)
		return connect__enter((__u32)PT_REGS_PARM1_CORE_SYSCALL(regs),
				      (const char *)PT_REGS_PARM2_CORE_SYSCALL(regs),
				      (__u32)PT_REGS_PARM3_CORE_SYSCALL(regs));
	if (id == nr_rename)
		return config_rename__enter(AT_FDCWD,
					    (const char *)PT_REGS_PARM2_CORE_SYSCALL(regs));
	return config_rename__enter((int)PT_REGS_PARM3_CORE_SYSCALL(regs),
				    (const char *)PT_REGS_PARM4_CORE_SYSCALL(regs));
}

SEC("raw_tp/sys_exit")
int BPF_PROG(raw_tp__sys_exit, struct pt_regs *regs, long ret)
{
	long id = syscall__nr(regs);

	if (id == nr_connect) {
		if (syscall__compat() || !agent__active())
			return 0;
		return connect__exit(ctx, ret);
	}
	if (!watching_config)
		return 0;
	if (id == nr_openat || id == nr_open || id == nr_openat2) {
		if (syscall__compat() || !agent__active())
			return 0;
		return config_open__exit(ctx, ret);
	}
	if (id == nr_rename || id == nr_renameat || id == nr_renameat2) {
		if (syscall__compat() || !agent__active())
			return 0;
		return config_rename__exit(ctx, ret);
	}
	return 0;
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(raw_tp__inet_sock_set_state, const struct sock *sk, const int oldstate,
	     const int newstate)
{
	return tcp_state__change((__u64)sk, BPF_CORE_READ(sk, sk_protocol), oldstate, newstate);
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(raw_tp__sched_process_exec, struct task_struct *p, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	if (!agent__active())
		return 0;
	return exec__report(ctx, BPF_CORE_READ(bprm, filename), NULL);
}

#endif /* SHIMWATCH_RAW_TRACEPOINTS_BPF_H */
