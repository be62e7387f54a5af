// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What every family of probes shares: the ring buffer and the scratch record,
 * the loss counters, which loaded copy records (pinned restarts), and the
 * current task's files and sockets by descriptor.
 */
#ifndef SHIMWATCH_CORE_BPF_H
#define SHIMWATCH_CORE_BPF_H

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
/* offsetof(struct sockaddr_un, sun_path) */
#define SUN_PATH_OFFSET 2
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define S_IFDIR 0040000

/* The record being assembled: far larger than the 512-byte BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_event);
} scratch SEC(".maps");

/* Events emitted and lost, by enum sw_counter, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SW_COUNTER__MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Which loaded copy of the programs records (see struct sw_agent_state):
 * pinned with the other maps, so that it is shared across agent restarts. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_agent_state);
} agent_state SEC(".maps");

/* This copy's generation, set by the agent before load. */
const volatile __u32 generation = 0;

/* How many bytes may wait in the ring buffer before a record wakes the
 * agent; 0: every record wakes it as soon as it has caught up. Set by the
 * agent before load. Waking it costs the agent more than reading a record,
 * so under a steady stream it is woken once per batch; it also reads the
 * ring on a short timer, which bounds how long a lone record waits. */
const volatile __u32 wakeup_bytes = 0;

/* Records for user space; size set by the agent before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps");

/* Whether this copy of the programs is the one that records: an array
 * lookup with a constant key, which the verifier inlines. */
static __always_inline bool agent__active(void)
{
	__u32 zero = 0;
	struct sw_agent_state *state = bpf_map_lookup_elem(&agent_state, &zero);

	return state && state->generation == generation;
}

static __always_inline void counter__inc(__u32 idx)
{
	__u64 *val = bpf_map_lookup_elem(&counters, &idx);

	if (val)
		*val += 1;
}

/* The file behind file descriptor fd of the current task, or NULL. */
static __always_inline struct file *fd__file(__u32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file *file = NULL;
	struct file **fds;
	unsigned int max_fds;

	fds = BPF_CORE_READ(task, files, fdt, fd);
	max_fds = BPF_CORE_READ(task, files, fdt, max_fds);
	if (fd >= max_fds || !fds)
		return NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]))
		return NULL;
	return file;
}

/* The socket behind file, or NULL when it is no socket. */
static __always_inline struct sock *file__sock(struct file *file)
{
	struct socket *sock;

	if (!file)
		return NULL;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	return BPF_CORE_READ(sock, sk);
}

/* The socket behind file descriptor fd of the current task, or NULL. */
static __always_inline struct sock *fd__sock(__u32 fd)
{
	return file__sock(fd__file(fd));
}

/* Reads from the caller's memory (syscall tracepoints) or from the kernel's
 * (function hooks, where the kernel has copied the argument already). user
 * is a constant at every call, so each program keeps one of the helpers. */
static __always_inline long mem__read(void *dst, __u32 size, const void *src, bool user)
{
	return user ? bpf_probe_read_user(dst, size, src) : bpf_probe_read_kernel(dst, size, src);
}

static __always_inline long mem__read_str(void *dst, __u32 size, const void *src, bool user)
{
	return user ? bpf_probe_read_user_str(dst, size, src)
		    : bpf_probe_read_kernel_str(dst, size, src);
}

#endif /* SHIMWATCH_CORE_BPF_H */
