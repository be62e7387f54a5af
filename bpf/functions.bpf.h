// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The function set: connect, open and rename probed on the kernel functions
 * behind the syscalls (fentry/fexit), where the kernel has copied the
 * address, resolved the file or read the new name already. No syscall
 * tracepoint is attached with them, so the syscalls of the rest of the node
 * stay on their fast path, and the calls that do not go through the 64-bit
 * syscall table go through these functions too: io_uring's requests and a
 * 32-bit process' syscalls.
 *
 *   __sys_connect_file  every connect(): syscall, 32-bit socketcall and
 *                       connect, IORING_OP_CONNECT
 *   do_filp_open        every open by name: open, openat, openat2, creat,
 *                       their 32-bit forms, IORING_OP_OPENAT(2); also exec
 *                       and the kernel's own opens, left out here
 *   do_renameat2        rename, renameat, renameat2, their 32-bit forms,
 *                       IORING_OP_RENAMEAT
 *
 * The agent loads these where the kernel accepts them (a kernel with BTF
 * and BPF trampolines) and falls back to the syscall tracepoints per
 * family. The arguments are declared as void pointers and read through
 * helpers: the verifier types them from the kernel's BTF, whatever they are
 * called there.
 */
#ifndef SHIMWATCH_FUNCTIONS_BPF_H
#define SHIMWATCH_FUNCTIONS_BPF_H

#define O_NONBLOCK 00004000
#define EAGAIN 11
#define O_EXEC_OPEN 0x20 /* __FMODE_EXEC: the open of a binary to run */
#define PF_KTHREAD 0x00200000
#define MAX_ERRNO 4095

/* io_uring tries a connect first without blocking, whatever the socket's
 * own mode, and goes on waiting when that says "not yet": that try is no
 * call of its own. */
static __always_inline bool connect__io_uring_try(struct file *file, int file_flags, int ret)
{
	return (file_flags & O_NONBLOCK) && !(BPF_CORE_READ(file, f_flags) & O_NONBLOCK) &&
	       (ret == -EAGAIN || ret == -ECONNABORTED);
}

/* A TCP connect to a watched port is registered before the call, as at
 * sys_enter_connect: on loopback its handshake ends inside it. */
SEC("fentry/__sys_connect_file")
int BPF_PROG(fentry__sys_connect_file, struct file *file, const void *address, int addrlen,
	     int file_flags)
{
	struct sw_inet_addr inet = {};
	__u16 family = 0;

	if (!watching_tcp || !agent__active())
		return 0;
	if (addrlen < (int)sizeof(family) ||
	    bpf_probe_read_kernel(&family, sizeof(family), address) ||
	    (family != AF_INET && family != AF_INET6))
		return 0;
	if (inet_addr__read(address, addrlen, family, &inet, false) == ADDR_WATCHED)
		tcp_connect__register(file__sock(file));
	return 0;
}

SEC("fexit/__sys_connect_file")
int BPF_PROG(fexit__sys_connect_file, struct file *file, const void *address, int addrlen,
	     int file_flags, int ret)
{
	struct sw_event *e;
	__u16 family = 0;
	struct sock *sk;
	__u64 key;
	int found;

	if (!agent__active())
		return 0;
	if (addrlen < (int)sizeof(family) ||
	    bpf_probe_read_kernel(&family, sizeof(family), address))
		return 0;
	if (connect__io_uring_try(file, file_flags, ret))
		return 0;
	sk = file__sock(file);
	e = scratch__get();
	if (!e || !sk)
		return 0;
	__builtin_memset(&e->peer, 0, sizeof(e->peer));
	__builtin_memset(&e->inet, 0, sizeof(e->inet));
	__builtin_memset(&e->matched, 0, sizeof(e->matched));
	__builtin_memset(&e->addr, 0, sizeof(e->addr));
	e->matched_depth = 0;
	if (family == AF_INET || family == AF_INET6) {
		/* Registered at entry, or not a connect of ours. */
		key = (__u64)sk;
		if (!watching_tcp || !bpf_map_lookup_elem(&tcp_outcome, &key))
			return 0;
		if (inet_addr__read(address, addrlen, family, &e->inet, false) != ADDR_WATCHED) {
			bpf_map_delete_elem(&tcp_outcome, &key);
			return 0;
		}
		e->exec_path[0] = 0;
		e->ret = ret;
		tcp_connect__finish(ctx, e, sk);
		return 0;
	}
	found = unix_addr__read(address, addrlen, &e->addr, false);
	if (found == ADDR_OTHER || found == ADDR_UNREADABLE)
		return 0;
	/* An unwatched path only matters if something is watched by identity. */
	if (found == ADDR_UNIX_PATH && !watching_inodes)
		return 0;
	return connect__report_unix(ctx, e, sk, ret,
				    found == ADDR_WATCHED ? SW_FLAG_MATCHED_PATH : 0, 0);
}

/* A file opened by name: the same check as at the open syscalls' exit, on
 * the file itself. */
SEC("fexit/do_filp_open")
int BPF_PROG(fexit__do_filp_open, int dfd, const void *pathname, const void *op, struct file *file)
{
	struct task_struct *task;

	if (!watching_config || !agent__active())
		return 0;
	if ((unsigned long)file >= (unsigned long)-MAX_ERRNO || !file)
		return 0;
	/* An exec opens its binary here too, and the kernel its own files. */
	if (BPF_CORE_READ(file, f_flags) & O_EXEC_OPEN)
		return 0;
	task = (struct task_struct *)bpf_get_current_task();
	if (BPF_CORE_READ(task, flags) & PF_KTHREAD)
		return 0;
	return config_open__file(ctx, file);
}

/* The new name is read on the way in: do_renameat2 frees it before it
 * returns. Only a rename that may land in watched configuration is kept. */
SEC("fentry/do_renameat2")
int BPF_PROG(fentry__do_renameat2, int olddfd, const void *from, int newdfd, struct filename *to,
	     unsigned int flags)
{
	if (!watching_config || !agent__active())
		return 0;
	return config_rename__match(newdfd, BPF_CORE_READ(to, name), false);
}

SEC("fexit/do_renameat2")
int BPF_PROG(fexit__do_renameat2, int olddfd, const void *from, int newdfd, struct filename *to,
	     unsigned int flags, int ret)
{
	if (!watching_config || !agent__active())
		return 0;
	return config_rename__send(ctx, ret);
}

#endif /* SHIMWATCH_FUNCTIONS_BPF_H */
