// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * shimwatch probes: exec of watched binaries and connect() to watched unix
 * sockets. Filtering happens here: only matching calls reach user space.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include "events.h"

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
/* offsetof(struct sockaddr_un, sun_path) */
#define SUN_PATH_OFFSET 2
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define S_IFDIR 0040000

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Basenames, cut to comm length, whose successful exec is reported. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct sw_exec_name);
	__type(value, __u8);
} watched_exec SEC(".maps");

/* Identities (inode, device) of the watched binaries (the docker CLI and
 * its plugins): their exec is reported under any name, through a symlink or
 * a hard link. Kept current by the agent as the binaries are replaced. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct sw_inode_key);
	__type(value, __u8);
} watched_exec_inode SEC(".maps");

const volatile bool watching_exec_inodes = false;

/* Binaries already run once: only the first exec of each (inode, device,
 * size) goes to user space, which compares its ELF build-id with the docker
 * binaries' (a renamed copy). An exec storm of one binary costs one lookup. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct sw_binary_key);
	__type(value, __u8);
} seen_binary SEC(".maps");

const volatile bool watching_build_ids = false;

/* The binary each CPU last found in seen_binary: an exec storm of one binary
 * (a shell loop, a health check) skips the LRU lookup. Cleared by the agent
 * when it asks for a binary to be sent again. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_binary_key);
} last_seen_binary SEC(".maps");

/* Docker's configuration (/etc/docker, drop-ins, /etc/default/docker), by
 * identity: CONFIG_FILE for a file, CONFIG_DIR for a directory whose whole
 * tree (CONFIG_DEPTH levels) counts. Kept current by the agent. */
#define CONFIG_FILE 1
#define CONFIG_DIR 2
#define CONFIG_DEPTH 4
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 160); /* 64 paths, their parents, room to replace */
	__type(key, struct sw_inode_key);
	__type(value, __u8);
} watched_config_inode SEC(".maps");

const volatile bool watching_config = false;

/* The parent directory of a watched file (or of a watched path that does not
 * exist yet): a rename by a relative name in it may create the file. */
#define CONFIG_PARENT 3

/* The watched paths as strings, for renames to an absolute path. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SW_CONFIG_PREFIXES);
	__type(key, __u32);
	__type(value, struct sw_config_prefix);
} config_prefix SEC(".maps");

/* rename*() in flight: the destination as the caller named it, from enter to
 * exit (only a rename that succeeded is reported). */
struct pending_rename {
	__s64 dfd;
	__u64 name; /* user pointer */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct pending_rename);
} pending_rename SEC(".maps");

/* Unix socket addresses whose connect() is reported. Filled before attach. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct sw_unix_addr);
	__type(value, __u8);
} watched_unix SEC(".maps");

/* Identities (inode, device) of the watched sockets' files: a connect that
 * reaches one of them is reported whatever path the caller passed (a
 * bind mount into a container, a symlink, /proc/<pid>/root/...). Kept
 * current by the agent as the sockets are re-created. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct sw_inode_key);
	__type(value, __u8);
} watched_unix_inode SEC(".maps");

/* Set by the agent before load when watched_unix_inode will hold entries. */
const volatile bool watching_inodes = false;

/* TCP ports (host byte order) whose connect() is reported: the Docker
 * Engine API (2375 plain, 2376 TLS). Which destinations count is decided in
 * user space, where the node's addresses are known. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u16);
	__type(value, __u8);
} watched_tcp_port SEC(".maps");

const volatile bool watching_tcp = false;

/* TCP connects still in progress (non-blocking, EINPROGRESS: how Go's docker
 * CLI connects), socket -> the whole record, captured in the caller's
 * context; sent when the handshake ends (sock/inet_sock_set_state), with its
 * outcome. Least recently used entries go first when the table is full:
 * a handshake whose end was never seen (the tracepoint can be skipped while
 * another BPF program runs on that CPU) cannot hold a slot forever. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, struct sw_event);
} tcp_in_progress SEC(".maps");

/* How the handshake of a watched TCP connect ended, socket -> 0 while it
 * goes on, else the return value it amounts to plus one (1: success). On
 * loopback it ends inside the connect() call, before sys_exit_connect. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __s32);
} tcp_outcome SEC(".maps");

/* A connect() in flight, from sys_enter to sys_exit. */
struct pending_connect {
	struct sw_unix_addr addr; /* the address passed, unless unread */
	__u32 fd;
	__u64 uaddr; /* unread: where to read it again at exit */
	__u32 addrlen;
	__u8 unread;
	__u8 watched; /* addr is a watched address */
	__u8 tcp;     /* inet holds a watched TCP destination */
	__u8 pad;
	struct sw_inet_addr inet;
};

/* connect() calls to a watched address (or one not readable yet), in
 * flight: thread id -> call. Consumed at sys_exit where the result is known.
 * When it is full a call is lost, and counted. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct pending_connect);
} pending_connect SEC(".maps");

/* connect() calls to a unix path that is not watched, which may reach a
 * watched socket under another name: known at exit. Apart from the watched
 * calls, and least recently used first out, so that threads a workload
 * leaves blocked in connect() can neither fill the table of the watched
 * calls nor hold this one against the calls that come after them. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct pending_connect);
} pending_maybe SEC(".maps");

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

/* Per process (thread group id): its context as its last record captured
 * it. Private to this copy of the programs (never pinned). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct sw_process_context);
} process_context SEC(".maps");

/* A context being stored: too large for the stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_process_context);
} scratch_context SEC(".maps");

static __always_inline struct sw_event *scratch__get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch, &zero);
}

static __always_inline void task__fill(struct sw_task_info *info, struct task_struct *task)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);
	unsigned int level = BPF_CORE_READ(task, thread_pid, level);

	info->pid = pid_tgid >> 32;
	info->tid = (__u32)pid_tgid;
	info->ppid = BPF_CORE_READ(parent, tgid);
	info->uid = (__u32)uid_gid;
	info->gid = uid_gid >> 32;
	info->mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	info->pid_ns = BPF_CORE_READ(task, thread_pid, numbers[level].ns, ns.inum);
	info->pad = 0;
	info->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(info->comm, sizeof(info->comm));
	/* The parent process' name: its main thread's, not the forking thread's. */
	struct task_struct *parent_leader = BPF_CORE_READ(parent, group_leader);

	bpf_probe_read_kernel_str(info->parent_comm, sizeof(info->parent_comm),
				  parent_leader->comm);
}

/*
 * The chain of real parents, nearest first: captured now because a short
 * script's parents may be gone by the time user space looks.
 */
static __always_inline void ancestors__fill(struct sw_event *e, struct task_struct *task)
{
	struct task_struct *cur = BPF_CORE_READ(task, real_parent);
	__u32 n = 0;

	for (int i = 0; i < SW_ANCESTORS_MAX; i++) {
		struct sw_ancestor *a = &e->ancestor[i];
		__u32 pid = BPF_CORE_READ(cur, tgid);
		unsigned int level;

		/* The idle task (pid 0) is the parent of init and kthreadd. */
		if (!cur || pid == 0)
			break;
		/* real_parent is the thread that forked; the process is its
		 * group leader, whose start time and name /proc reports. */
		struct task_struct *leader = BPF_CORE_READ(cur, group_leader);

		level = BPF_CORE_READ(cur, thread_pid, level);
		a->pid = pid;
		a->pid_ns = BPF_CORE_READ(cur, thread_pid, numbers[level].ns, ns.inum);
		a->start_boottime_ns = BPF_CORE_READ(leader, start_boottime);
		bpf_probe_read_kernel_str(a->comm, sizeof(a->comm), leader->comm);
		n++;
		cur = BPF_CORE_READ(cur, real_parent);
	}
	if (n == SW_ANCESTORS_MAX && cur && BPF_CORE_READ(cur, tgid) != 0)
		e->flags |= SW_FLAG_ANCESTRY_TRUNCATED;
	e->ancestors = n;
}

/* kernfs_node.parent became __parent in Linux 6.15. */
struct kernfs_node___pre615 {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *kernfs__parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(kn->__parent))
		return BPF_CORE_READ(kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___pre615 *)kn, parent);
}

/*
 * Names of the task's innermost cgroup levels, innermost first. The cgroup v2
 * one when the task is below the v2 root; otherwise (a cgroup v1 host) the
 * pids controller's, else the memory controller's, which kubelet, Docker and
 * systemd all lay out the same way.
 */
static __always_inline void cgroup__fill(struct sw_event *e, struct task_struct *task)
{
	struct cgroup *cgrp = BPF_CORE_READ(task, cgroups, dfl_cgrp);
	struct sw_cgroup_info *info = &e->cgroup;
	struct kernfs_node *kn;
	__u32 pos = 0, levels = 0;
	int level;

	info->hierarchy = SW_CGROUP_HIERARCHY_V2;
	level = BPF_CORE_READ(cgrp, level);
	if (level == 0 && bpf_core_enum_value_exists(enum cgroup_subsys_id, pids_cgrp_id)) {
		int id = bpf_core_enum_value(enum cgroup_subsys_id, pids_cgrp_id);
		struct cgroup *v1 = BPF_CORE_READ(task, cgroups, subsys[id], cgroup);

		if (v1 && BPF_CORE_READ(v1, level) > 0) {
			cgrp = v1;
			info->hierarchy = id + 1;
		}
	}
	if (info->hierarchy == SW_CGROUP_HIERARCHY_V2 && level == 0 &&
	    bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id)) {
		int id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
		struct cgroup *v1 = BPF_CORE_READ(task, cgroups, subsys[id], cgroup);

		if (v1 && BPF_CORE_READ(v1, level) > 0) {
			cgrp = v1;
			info->hierarchy = id + 1;
		}
	}
	level = BPF_CORE_READ(cgrp, level);
	info->level = level;
	kn = BPF_CORE_READ(cgrp, kn);

	for (int i = 0; i < SW_CGROUP_LEVELS; i++) {
		/* The root's own name is not part of any path. */
		if (i >= level || !kn)
			break;
		if (pos >= SW_CGROUP_DATA)
			break;
		/* Same bound as the executable path: pos < SW_CGROUP_DATA and a
		 * name is at most 256 bytes with its NUL. */
		const char *name = BPF_CORE_READ(kn, name);
		long n = bpf_probe_read_kernel_str(&info->names[pos & (SW_CGROUP_DATA - 1)],
						   SW_CGROUP_SLACK, name);
		if (n <= 0)
			break;
		if (pos + n > SW_CGROUP_DATA)
			/* It would overhang into the slack: leave it out. */
			break;
		pos += n;
		levels++;
		kn = kernfs__parent(kn);
	}
	if (levels < (__u32)level)
		e->flags |= SW_FLAG_CGROUP_TRUNCATED;
	info->names_size = pos;
	info->levels = levels;
	info->pad = 0;
}

/*
 * The executable's path, walked up from its dentry to the root of the task's
 * mount namespace. Components go out leaf first ("docker\0bin\0usr\0"); user
 * space reverses them. bpf_d_path() would be simpler but is not allowed from
 * tracepoints.
 */
static __always_inline void exe__fill(struct sw_event *e, struct task_struct *task)
{
	struct file *file = BPF_CORE_READ(task, mm, exe_file);
	struct dentry *dentry = BPF_CORE_READ(file, f_path.dentry);
	struct vfsmount *vfsmnt = BPF_CORE_READ(file, f_path.mnt);
	struct mount *mnt = (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt);
	bool complete = false;
	__u32 pos = 0;

	e->exe_size = 0;
	if (!file)
		return;

	for (int i = 0; i < SW_EXE_DEPTH; i++) {
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
		struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);

		if (dentry == mnt_root || dentry == parent) {
			struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);

			/* The root mount of a namespace is its own parent. */
			if (mnt_parent == mnt) {
				complete = true;
				break;
			}
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			vfsmnt = (void *)mnt + bpf_core_field_offset(struct mount, mnt);
			continue;
		}
		if (pos >= SW_EXE_DATA)
			break;
		/* pos < SW_EXE_DATA and a name is at most 256 bytes with its NUL,
		 * so the write stays inside exe[SW_EXE_BUF]; the mask tells the
		 * verifier the same. */
		const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
		long n =
		    bpf_probe_read_kernel_str(&e->exe[pos & (SW_EXE_DATA - 1)], SW_EXE_SLACK, name);
		if (n <= 0)
			break;
		if (pos + n > SW_EXE_DATA)
			/* It would overhang into the slack: leave it out. */
			break;
		pos += n;
		dentry = parent;
	}
	/* Out of levels or room before the root: the path misses its top. */
	if (!complete)
		e->flags |= SW_FLAG_EXE_TRUNCATED;
	e->exe_size = pos;
}

/* argv as the kernel keeps it: NUL separated, bounded by SW_ARGS_MAX. */
static __always_inline __u32 args__fill(struct sw_event *e, struct task_struct *task)
{
	unsigned long start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long end = BPF_CORE_READ(task, mm, arg_end);
	__u32 len;

	if (end <= start) {
		e->args_size = 0;
		return 0;
	}
	len = end - start;
	if (len > SW_ARGS_MAX) {
		len = SW_ARGS_MAX;
		e->flags |= SW_FLAG_ARGS_TRUNCATED;
	}
	/* 1..SW_ARGS_MAX in a form the verifier can bound (SW_ARGS_MAX is a
	 * power of two). */
	len = ((len - 1) & (SW_ARGS_MAX - 1)) + 1;
	if (bpf_probe_read_user(e->args, len, (void *)start)) {
		/* The argv page is not resident; tracepoints cannot fault it in. */
		e->flags |= SW_FLAG_ARGS_UNREADABLE;
		counter__inc(SW_COUNTER_ARGS_UNREADABLE);
		len = 0;
	}
	e->args_size = len;
	return len;
}

/* The first size bytes of e to user space, counted either way. */
static __always_inline void ringbuf__send(struct sw_event *e, __u32 size)
{
	__u64 flags = 0;

	/* An exec of a binary nothing matched yet waits for the agent to
	 * read its build-id from /proc while the process may still run: it
	 * wakes the agent at once. */
	if (wakeup_bytes && e->hdr.type != SW_EVENT_EXEC)
		flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + size >= wakeup_bytes
			    ? BPF_RB_FORCE_WAKEUP
			    : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&events, e, size, flags))
		counter__inc(SW_COUNTER_DROP_RINGBUF);
	else
		counter__inc(SW_COUNTER_EMITTED);
}

static __always_inline void event__submit(void *ctx, struct sw_event *e, __u64 args_len)
{
	__u32 size;

	/* Bounded here for the verifier, which knows nothing of what a global
	 * function returns; the barrier keeps clang, which does, from dropping
	 * the check. */
	barrier_var(args_len);
	if (args_len > SW_ARGS_MAX)
		args_len = SW_ARGS_MAX;
	size = offsetof(struct sw_event, args) + args_len;
	e->hdr.size = size;
	ringbuf__send(e, size);
}

_Static_assert(__builtin_offsetof(struct sw_event, cgroup) ==
		   __builtin_offsetof(struct sw_event, ancestor) +
		       sizeof(((struct sw_event *)0)->ancestor),
	       "ancestor and cgroup are copied together");
_Static_assert(__builtin_offsetof(struct sw_process_context, cgroup) ==
		   __builtin_offsetof(struct sw_process_context, ancestor) +
		       sizeof(((struct sw_process_context *)0)->ancestor),
	       "ancestor and cgroup are copied together");

#define SW_CONTEXT_FLAGS                                                                           \
	(SW_FLAG_EXE_TRUNCATED | SW_FLAG_CGROUP_TRUNCATED | SW_FLAG_ANCESTRY_TRUNCATED)

/*
 * Global functions (non-static, __noinline): the verifier checks each of them
 * once, on its own, instead of once for every path of every program that
 * calls it. Inlined, the walks below multiplied the states of their callers
 * past the 1M-instruction budget of 5.10 and 6.1 verifiers (E2BIG). 5.10
 * lets global functions take scalars only, so they work on this CPU's
 * scratch record and return a scalar.
 */

/* The record's ancestry: always 0. */
__noinline int capture__ancestors(void)
{
	struct sw_event *e = scratch__get();

	if (!e)
		return 0;
	ancestors__fill(e, (struct task_struct *)bpf_get_current_task());
	return 0;
}

/* The record's cgroup names: always 0. */
__noinline int capture__cgroup(void)
{
	struct sw_event *e = scratch__get();

	if (!e)
		return 0;
	cgroup__fill(e, (struct task_struct *)bpf_get_current_task());
	return 0;
}

/* The record's executable path: always 0. */
__noinline int capture__exe(void)
{
	struct sw_event *e = scratch__get();

	if (!e)
		return 0;
	exe__fill(e, (struct task_struct *)bpf_get_current_task());
	return 0;
}

/* Ancestry, cgroup and executable path of the record: from process_context
 * when the process' last record captured them and nothing they come from
 * changed, else captured now and kept for its next call. Always 0. */
__noinline int capture__context(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 exe_file = (__u64)BPF_CORE_READ(task, mm, exe_file);
	__u64 parent = (__u64)BPF_CORE_READ(task, real_parent);
	__u64 css_set = (__u64)BPF_CORE_READ(task, cgroups);
	__u64 start = BPF_CORE_READ(task, group_leader, start_boottime);
	struct sw_process_context *c = bpf_map_lookup_elem(&process_context, &tgid);
	struct sw_event *e = scratch__get();
	__u32 zero = 0;

	if (!e)
		return 0;
	if (c && c->exe_file == exe_file && c->parent == parent && c->css_set == css_set &&
	    c->start_boottime_ns == start) {
		e->flags |= c->flags & SW_CONTEXT_FLAGS;
		e->ancestors = c->ancestors;
		e->exe_size = c->exe_size;
		bpf_probe_read_kernel(e->ancestor, sizeof(e->ancestor) + sizeof(e->cgroup),
				      c->ancestor);
		bpf_probe_read_kernel(e->exe, sizeof(e->exe), c->exe);
		return 0;
	}
	capture__ancestors();
	capture__cgroup();
	capture__exe();

	c = bpf_map_lookup_elem(&scratch_context, &zero);
	if (!c)
		return 0;
	c->exe_file = exe_file;
	c->parent = parent;
	c->css_set = css_set;
	c->start_boottime_ns = start;
	c->flags = e->flags & SW_CONTEXT_FLAGS;
	c->ancestors = e->ancestors;
	c->exe_size = e->exe_size;
	bpf_probe_read_kernel(c->ancestor, sizeof(c->ancestor) + sizeof(c->cgroup), e->ancestor);
	bpf_probe_read_kernel(c->exe, sizeof(c->exe), e->exe);
	bpf_map_update_elem(&process_context, &tgid, c, BPF_ANY);
	return 0;
}

/* The record's argv; returns its length. */
__noinline long capture__args(void)
{
	struct sw_event *e = scratch__get();

	if (!e)
		return 0;
	return args__fill(e, (struct task_struct *)bpf_get_current_task());
}

/* Fills in everything about the current task into the scratch record e;
 * returns the argv bytes. */
static __always_inline __u64 event__capture(struct sw_event *e, __u32 type, __u32 flags)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	e->hdr.type = type;
	e->hdr.ktime_ns = bpf_ktime_get_boot_ns();
	e->flags = flags;
	e->pad16 = 0;
	e->pad = 0;
	task__fill(&e->task, task);
	capture__context();
	return capture__args();
}

static __always_inline void event__fill(void *ctx, struct sw_event *e, __u32 type, __u32 flags)
{
	event__submit(ctx, e, event__capture(e, type, flags));
}

/* A successful exec: reported when the program is watched by name, by file
 * identity, or is a binary never run before (for the build-id check).
 * filename: the path passed to execve(), in kernel memory. btf_task: the
 * task as a BTF-enabled program receives it, read with plain loads instead
 * of a helper call per field; NULL from the classic tracepoint. (Not
 * bpf_get_current_task_btf(): 5.10 lacks it.) */
static __always_inline int exec__report(void *ctx, const char *filename,
					struct task_struct *btf_task)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct sw_exec_name key = {};
	struct sw_binary_key binary = {};
	struct sw_inode_key id = {};
	bool by_name;
	__u32 flags = 0;
	struct sw_event *e;
	struct file *exe;
	__u64 size;
	long n;

	/* exec has just set comm to the basename of the path it ran (cut to 15
	 * bytes): the cheapest possible filter for an exec storm. Names longer
	 * than that are checked in full in user space against exec_path. */
	bpf_get_current_comm(key.name, sizeof(key.name));
	by_name = bpf_map_lookup_elem(&watched_exec, &key) != NULL;
	if (!by_name && !watching_exec_inodes && !watching_build_ids)
		return 0;
	/* exe_file is the new program's file by now. */
	if (btf_task) {
		struct inode *inode;

		exe = btf_task->mm->exe_file;
		inode = exe ? exe->f_inode : NULL;
		if (inode) {
			id.ino = inode->i_ino;
			id.dev = inode->i_sb->s_dev;
		}
		size = inode ? inode->i_size : 0;
	} else {
		exe = BPF_CORE_READ(task, mm, exe_file);
		if (exe) {
			id.ino = BPF_CORE_READ(exe, f_inode, i_ino);
			id.dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
		}
		size = exe ? BPF_CORE_READ(exe, f_inode, i_size) : 0;
	}
	if (!by_name) {
		/* Not by name: maybe by what file it runs (a link under another
		 * name), or a binary never seen before (a renamed copy?). */
		if (!exe)
			return 0;
		if (watching_exec_inodes && bpf_map_lookup_elem(&watched_exec_inode, &id)) {
			flags |= SW_FLAG_EXEC_IDENTITY;
		} else {
			struct sw_binary_key *last;
			__u32 zero = 0;
			__u8 seen = 1;

			if (!watching_build_ids)
				return 0;
			binary.ino = id.ino;
			binary.dev = id.dev;
			binary.size = size;
			last = bpf_map_lookup_elem(&last_seen_binary, &zero);
			if (last && last->ino == binary.ino && last->dev == binary.dev &&
			    last->size == binary.size)
				return 0;
			if (bpf_map_lookup_elem(&seen_binary, &binary)) {
				if (last)
					*last = binary;
				return 0;
			}
			if (bpf_map_update_elem(&seen_binary, &binary, &seen, BPF_NOEXIST))
				return 0; /* another CPU took it first */
			flags |= SW_FLAG_EXEC_NEW_BINARY;
		}
	}

	e = scratch__get();
	if (!e)
		return 0;
	n = bpf_probe_read_kernel_str(e->exec_path, sizeof(e->exec_path), filename);
	if (n < 0)
		e->exec_path[0] = 0;
	/* A full buffer means the path went on: its basename is lost. */
	if (n == sizeof(e->exec_path))
		flags |= SW_FLAG_EXEC_PATH_TRUNCATED;
	__builtin_memset(&e->addr, 0, sizeof(e->addr));
	__builtin_memset(&e->peer, 0, sizeof(e->peer));
	__builtin_memset(&e->inet, 0, sizeof(e->inet));
	e->matched = id;
	e->matched_depth = size > 0xFFFFFFFFULL ? 0xFFFFFFFFU : (__u32)size;
	e->ret = 0;
	event__fill(ctx, e, SW_EVENT_EXEC, flags);
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int tracepoint__sched__sched_process_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	unsigned int off = ctx->__data_loc_filename & 0xFFFF;

	if (!agent__active())
		return 0;
	return exec__report(ctx, (const char *)ctx + off, NULL);
}

/* Reading the caller's address: */
#define ADDR_WATCHED 0	  /* a watched unix socket address, in key */
#define ADDR_OTHER 1	  /* not a unix socket path: not our business */
#define ADDR_UNREADABLE 2 /* the page is not resident: try again at exit */
#define ADDR_UNIX_PATH 3  /* a unix socket path not watched: what it reaches may be */

/* The sockaddr passed to connect() as a filter key; key must be zeroed. */
static __always_inline int unix_addr__read(const char *uaddr, __u64 addrlen,
					   struct sw_unix_addr *key)
{
	const char *name = uaddr + SUN_PATH_OFFSET;
	__u16 family = 0;
	__u64 name_len;
	char first = 0;
	long n;

	/* An address with no name cannot be a watched socket. */
	if (addrlen <= SUN_PATH_OFFSET || addrlen > 1024)
		return ADDR_OTHER;
	if (bpf_probe_read_user(&family, sizeof(family), uaddr))
		return ADDR_UNREADABLE;
	if (family != AF_UNIX)
		return ADDR_OTHER;

	name_len = addrlen - SUN_PATH_OFFSET;
	if (name_len > SW_UNIX_PATH_MAX)
		name_len = SW_UNIX_PATH_MAX;
	/* Checked again behind a barrier so that clang cannot fold the bound
	 * away and the verifier sees it on the register it passes. */
	barrier_var(name_len);
	if (name_len == 0 || name_len > SW_UNIX_PATH_MAX)
		return ADDR_OTHER;
	if (bpf_probe_read_user(&first, 1, name))
		return ADDR_UNREADABLE;

	if (first == 0) {
		/* Abstract: the name is exactly addrlen bytes, NULs included. */
		if (bpf_probe_read_user(key->path, name_len, name))
			return ADDR_UNREADABLE;
		key->abstract = 1;
		key->len = name_len;
	} else {
		/* Filesystem path: up to the first NUL, the rest of the key
		 * zero, so that it equals the key user space built. One string
		 * read instead of a loop over the bytes: a loop with a branch
		 * per byte was what 5.10's verifier could not bound. The read
		 * keeps room for its NUL, so a name that fills all name_len
		 * bytes loses its last byte: read back on its own. */
		n = bpf_probe_read_user_str(key->path, name_len, name);
		if (n < 0)
			return ADDR_UNREADABLE;
		key->len = n > 0 ? n - 1 : 0;
		if (n == name_len) {
			__u64 last = name_len - 1;

			barrier_var(last);
			if (last >= SW_UNIX_PATH_MAX)
				return ADDR_OTHER;
			if (bpf_probe_read_user(&key->path[last], 1, name + last))
				return ADDR_UNREADABLE;
			if (key->path[last] != 0)
				key->len = name_len;
		}
	}
	if (bpf_map_lookup_elem(&watched_unix, key))
		return ADDR_WATCHED;
	/* Abstract sockets have no file: their name is all there is to match. */
	return key->abstract ? ADDR_OTHER : ADDR_UNIX_PATH;
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

/* The socket behind file descriptor fd of the current task, or NULL. */
static __always_inline struct sock *fd__sock(__u32 fd)
{
	struct file *file = fd__file(fd);
	struct socket *sock;

	if (!file)
		return NULL;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	return BPF_CORE_READ(sock, sk);
}

/* The socket that unix socket fd of the current task is connected to: its
 * bound name and file identity. False when fd is no connected unix socket. */
static __always_inline bool unix_peer__read(__u32 fd, struct sw_unix_peer *peer)
{
	struct unix_address *addr;
	struct unix_sock *u, *up;
	struct dentry *dentry;
	struct sock *sk;
	const char *src;
	char tail = 1;
	__u32 len;

	sk = fd__sock(fd);
	if (!sk || BPF_CORE_READ(sk, __sk_common.skc_family) != AF_UNIX)
		return false;
	u = (struct unix_sock *)sk;
	up = (struct unix_sock *)BPF_CORE_READ(u, peer);
	if (!up)
		return false;

	/* The server side of a connection carries its listener's name and path. */
	dentry = BPF_CORE_READ(up, path.dentry);
	if (dentry) {
		peer->id.ino = BPF_CORE_READ(dentry, d_inode, i_ino);
		peer->id.dev = BPF_CORE_READ(dentry, d_sb, s_dev);
	}
	addr = BPF_CORE_READ(up, addr);
	if (addr) {
		len = BPF_CORE_READ(addr, len);
		len = len > SUN_PATH_OFFSET ? len - SUN_PATH_OFFSET : 0;
		if (len > SW_UNIX_PATH_MAX)
			len = SW_UNIX_PATH_MAX;
		barrier_var(len);
		src = (void *)addr + bpf_core_field_offset(struct unix_address, name) +
		      SUN_PATH_OFFSET;
		if (len > 0 && len <= SW_UNIX_PATH_MAX &&
		    !bpf_probe_read_kernel(peer->path, len, src)) {
			peer->abstract = peer->path[0] == 0;
			peer->len = len;
			/* Bound filesystem names end in a NUL the length counts. The
			 * byte is read from the source: an index into the record
			 * would need a bound the verifier can follow. */
			if (!peer->abstract && !bpf_probe_read_kernel(&tail, 1, src + len - 1) &&
			    tail == 0)
				peer->len = len - 1;
		}
	}
	return true;
}

/* An IPv4/IPv6 sockaddr passed to connect(): ADDR_WATCHED when its port is
 * a watched one (inet filled in), else ADDR_OTHER; ADDR_UNREADABLE when the
 * page is not resident. */
static __always_inline int inet_addr__read(const char *uaddr, __u64 addrlen, __u16 family,
					   struct sw_inet_addr *inet)
{
	__u16 port_be = 0, port;

	if (!watching_tcp)
		return ADDR_OTHER;
	/* sin_port and sin6_port are both at offset 2. */
	if (addrlen < 4 || bpf_probe_read_user(&port_be, sizeof(port_be), uaddr + 2))
		return addrlen < 4 ? ADDR_OTHER : ADDR_UNREADABLE;
	port = bpf_ntohs(port_be);
	if (!bpf_map_lookup_elem(&watched_tcp_port, &port))
		return ADDR_OTHER;
	inet->family = family;
	inet->port = port;
	if (family == AF_INET) {
		/* sin_addr at offset 4 */
		if (addrlen < 8 || bpf_probe_read_user(inet->addr, 4, uaddr + 4))
			return addrlen < 8 ? ADDR_OTHER : ADDR_UNREADABLE;
	} else {
		/* sin6_addr at offset 8 */
		if (addrlen < 24 || bpf_probe_read_user(inet->addr, 16, uaddr + 8))
			return addrlen < 24 ? ADDR_OTHER : ADDR_UNREADABLE;
	}
	return ADDR_WATCHED;
}

#define EINPROGRESS 115
#define ECONNABORTED 103
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7
#define SOCK_STREAM 1
#define IPPROTO_TCP 6

/* Sends a record stashed in tcp_in_progress with its outcome, unless
 * another CPU took it first: deleting the entry is the claim. */
static __always_inline void tcp_connect__send_stashed(__u64 key, __s32 ret)
{
	struct sw_event *stashed = bpf_map_lookup_elem(&tcp_in_progress, &key);
	struct sw_event *e;
	__u32 size;

	if (!stashed)
		return;
	e = scratch__get();
	if (!e)
		return;
	size = stashed->hdr.size;
	if (size > sizeof(struct sw_event))
		size = sizeof(struct sw_event);
	if (size < offsetof(struct sw_event, args))
		size = offsetof(struct sw_event, args);
	/* Copied before the claim: a preallocated element can be reused by
	 * another CPU as soon as it is deleted. */
	if (bpf_probe_read_kernel(e, size, stashed))
		return;
	if (bpf_map_delete_elem(&tcp_in_progress, &key))
		return; /* another CPU sent it */
	e->ret = ret;
	e->flags |= SW_FLAG_COMPLETED_LATER;
	ringbuf__send(e, size);
}

/* A TCP connect() returned: sent now, or once its handshake ends when it is
 * still in progress. */
static __always_inline void tcp_connect__finish(void *ctx, struct sw_event *e, __u32 fd)
{
	__u64 args_len = event__capture(e, SW_EVENT_TCP_CONNECT, 0);
	struct sock *sk = fd__sock(fd);
	__u64 key = (__u64)sk;
	__s32 *outcome;

	if (e->ret == -EINPROGRESS && sk) {
		outcome = bpf_map_lookup_elem(&tcp_outcome, &key);
		if (!outcome) {
			/* Not registered at enter (address unreadable then, table
			 * full): nothing would send a stash. What the socket says
			 * now is all there is; still connecting stays EINPROGRESS. */
			if (BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_ESTABLISHED) {
				e->ret = 0;
				e->flags |= SW_FLAG_COMPLETED_LATER;
			}
		} else if (*outcome != 0) {
			/* Ended already (loopback). */
			e->ret = *outcome - 1;
			e->flags |= SW_FLAG_COMPLETED_LATER;
		} else {
			barrier_var(args_len);
			if (args_len > SW_ARGS_MAX)
				args_len = SW_ARGS_MAX;
			e->hdr.size = offsetof(struct sw_event, args) + args_len;
			if (!bpf_map_update_elem(&tcp_in_progress, &key, e, BPF_ANY)) {
				/* It may have ended while the record was stored. */
				outcome = bpf_map_lookup_elem(&tcp_outcome, &key);
				if (outcome && *outcome != 0) {
					tcp_connect__send_stashed(key, *outcome - 1);
					bpf_map_delete_elem(&tcp_outcome, &key);
				}
				return;
			}
			/* No room: sent as it is, outcome unknown. */
		}
	}
	bpf_map_delete_elem(&tcp_outcome, &key);
	event__submit(ctx, e, args_len);
}

/* A TCP socket changed state: a watched connect's handshake ended. */
static __always_inline int tcp_state__change(__u64 key, __u16 protocol, int oldstate, int newstate)
{
	__s32 *outcome, ret;
	int err;

	if (!agent__active())
		return 0;

	if (!watching_tcp || protocol != IPPROTO_TCP || oldstate != TCP_SYN_SENT)
		return 0;
	outcome = bpf_map_lookup_elem(&tcp_outcome, &key);
	if (!outcome)
		return 0;
	if (newstate == TCP_ESTABLISHED) {
		ret = 0;
	} else {
		err = BPF_CORE_READ((struct sock *)key, sk_err);
		ret = err > 0 ? -err : -ECONNABORTED;
	}
	*outcome = ret + 1;
	if (bpf_map_lookup_elem(&tcp_in_progress, &key)) {
		tcp_connect__send_stashed(key, ret);
		bpf_map_delete_elem(&tcp_outcome, &key);
	}
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int tracepoint__sock__inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	return tcp_state__change((__u64)ctx->skaddr, ctx->protocol, ctx->oldstate, ctx->newstate);
}

#define FMODE_WRITE 0x2
#define FMODE_PATH 0x4000
#define FMODE_CREATED 0x100000

/* A successful open (fd): reported when the file, or a directory up to
 * CONFIG_DEPTH levels above it, is watched Docker configuration. Matching
 * by identity at exit covers relative paths, bind mounts and symlinks, and
 * needs no string read on the way in, for an open that is almost never ours. */
static __always_inline int config_open__exit(void *ctx, long fd)
{
	struct sw_inode_key id = {};
	struct dentry *dentry, *walk;
	struct sw_event *e;
	struct file *file;
	__u32 depth = 0, pos = 0, flags = 0;
	bool found = false;
	__u8 *kind;

	if (!watching_config || fd < 0)
		return 0;
	file = fd__file((__u32)fd);
	if (!file)
		return 0;
	/* Listing a directory reads no configuration, nor does O_PATH. */
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) == S_IFDIR ||
	    (BPF_CORE_READ(file, f_mode) & FMODE_PATH))
		return 0;
	dentry = BPF_CORE_READ(file, f_path.dentry);
	walk = dentry;
	for (int i = 0; i <= CONFIG_DEPTH; i++) {
		id.ino = BPF_CORE_READ(walk, d_inode, i_ino);
		id.dev = BPF_CORE_READ(walk, d_sb, s_dev);
		kind = bpf_map_lookup_elem(&watched_config_inode, &id);
		if (kind && (i == 0 || *kind == CONFIG_DIR)) {
			found = true;
			depth = i;
			break;
		}
		walk = BPF_CORE_READ(walk, d_parent);
	}
	if (!found)
		return 0;

	e = scratch__get();
	if (!e)
		return 0;
	/* The names below the watched entry, leaf first; the agent puts the
	 * watched path in front. */
	__builtin_memset(e->exec_path, 0, sizeof(e->exec_path));
	walk = dentry;
	for (int i = 0; i < CONFIG_DEPTH; i++) {
		if (i >= depth || pos >= SW_EXEC_PATH_MAX / 2)
			break;
		const unsigned char *name = BPF_CORE_READ(walk, d_name.name);
		long n = bpf_probe_read_kernel_str(&e->exec_path[pos & (SW_EXEC_PATH_MAX / 2 - 1)],
						   SW_EXEC_PATH_MAX / 2, name);
		if (n <= 0)
			break;
		pos += n;
		walk = BPF_CORE_READ(walk, d_parent);
	}
	e->matched = id;
	e->matched_depth = depth;
	if (BPF_CORE_READ(file, f_mode) & FMODE_WRITE)
		flags |= SW_FLAG_OPEN_WRITE;
	if (BPF_CORE_READ(file, f_mode) & FMODE_CREATED)
		flags |= SW_FLAG_OPEN_CREATED;
	__builtin_memset(&e->addr, 0, sizeof(e->addr));
	__builtin_memset(&e->peer, 0, sizeof(e->peer));
	__builtin_memset(&e->inet, 0, sizeof(e->inet));
	e->ret = 0;
	event__fill(ctx, e, SW_EVENT_CONFIG_OPEN, flags);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int tracepoint__syscalls__sys_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	if (!agent__active())
		return 0;
	return config_open__exit(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_open")
int tracepoint__syscalls__sys_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	if (!agent__active())
		return 0;
	return config_open__exit(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int tracepoint__syscalls__sys_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	if (!agent__active())
		return 0;
	return config_open__exit(ctx, ctx->ret);
}

#define AT_FDCWD -100

/* Whether an absolute path may be, or lie below, a watched path: its first
 * 16 bytes against each watched path's (the agent checks the whole path). */
static __always_inline bool config_prefix__match(const char *path)
{
	__u64 head[2];

	__builtin_memcpy(head, path, sizeof(head));
	for (__u32 i = 0; i < SW_CONFIG_PREFIXES; i++) {
		__u32 key = i;
		struct sw_config_prefix *prefix = bpf_map_lookup_elem(&config_prefix, &key);

		if (!prefix || (prefix->mask[0] | prefix->mask[1]) == 0)
			continue;
		if ((head[0] & prefix->mask[0]) == prefix->word[0] &&
		    (head[1] & prefix->mask[1]) == prefix->word[1])
			return true;
	}
	return false;
}

static __always_inline int config_rename__enter(long dfd, const char *name)
{
	struct pending_rename pending = {.dfd = dfd, .name = (__u64)name};
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (!watching_config)
		return 0;
	bpf_map_update_elem(&pending_rename, &tid, &pending, BPF_ANY);
	return 0;
}

/* A rename that succeeded: reported when its destination is, or is under,
 * watched configuration. An absolute destination is compared as a string
 * with the watched paths; a relative one by the identity of the directory it
 * is relative to (a watched directory's tree, or a watched file's parent). */
static __always_inline int config_rename__exit(void *ctx, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sw_inode_key id = {};
	struct pending_rename *found;
	struct pending_rename pending;
	struct dentry *dir = NULL, *walk;
	__u32 flags = 0, depth = 0, pos = SW_EXEC_PATH_MAX / 2;
	bool matched = false;
	struct sw_event *e;
	__u8 *kind;
	long n;

	found = bpf_map_lookup_elem(&pending_rename, &tid);
	if (!found)
		return 0;
	pending = *found;
	bpf_map_delete_elem(&pending_rename, &tid);
	if (ret != 0)
		return 0;
	e = scratch__get();
	if (!e)
		return 0;
	__builtin_memset(e->exec_path, 0, sizeof(e->exec_path));
	n = bpf_probe_read_user_str(e->exec_path, SW_EXEC_PATH_MAX / 2, (const char *)pending.name);
	if (n <= 1)
		return 0;
	if (e->exec_path[0] == '/') {
		if (!config_prefix__match(e->exec_path))
			return 0;
		flags |= SW_FLAG_RENAME_ABSOLUTE;
	} else {
		if (pending.dfd == AT_FDCWD) {
			struct task_struct *task = (struct task_struct *)bpf_get_current_task();

			dir = BPF_CORE_READ(task, fs, pwd.dentry);
		} else if (pending.dfd >= 0) {
			struct file *file = fd__file((__u32)pending.dfd);

			if (file)
				dir = BPF_CORE_READ(file, f_path.dentry);
		}
		if (!dir)
			return 0;
		walk = dir;
		for (int i = 0; i <= CONFIG_DEPTH; i++) {
			id.ino = BPF_CORE_READ(walk, d_inode, i_ino);
			id.dev = BPF_CORE_READ(walk, d_sb, s_dev);
			kind = bpf_map_lookup_elem(&watched_config_inode, &id);
			if (kind && (*kind == CONFIG_DIR || (i == 0 && *kind == CONFIG_PARENT))) {
				matched = true;
				depth = i;
				break;
			}
			walk = BPF_CORE_READ(walk, d_parent);
		}
		if (!matched)
			return 0;
		/* The directories between the watched one and the base, leaf
		 * first, in the second half of exec_path. */
		walk = dir;
		for (int i = 0; i < CONFIG_DEPTH; i++) {
			if (i >= depth || pos >= SW_EXEC_PATH_MAX - SW_EXEC_PATH_MAX / 4)
				break;
			const unsigned char *name = BPF_CORE_READ(walk, d_name.name);
			long m =
			    bpf_probe_read_kernel_str(&e->exec_path[pos & (SW_EXEC_PATH_MAX - 1)],
						      SW_EXEC_PATH_MAX / 4, name);
			if (m <= 0)
				break;
			pos += m;
			walk = BPF_CORE_READ(walk, d_parent);
		}
		e->exec_path[(SW_EXEC_PATH_MAX - 1)] = 0;
	}
	e->matched = id;
	e->matched_depth = depth;
	__builtin_memset(&e->addr, 0, sizeof(e->addr));
	__builtin_memset(&e->peer, 0, sizeof(e->peer));
	__builtin_memset(&e->inet, 0, sizeof(e->inet));
	e->ret = 0;
	event__fill(ctx, e, SW_EVENT_CONFIG_RENAME, flags);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_rename")
int tracepoint__syscalls__sys_enter_rename(struct trace_event_raw_sys_enter *ctx)
{
	if (!agent__active())
		return 0;
	return config_rename__enter(AT_FDCWD, (const char *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_renameat")
int tracepoint__syscalls__sys_enter_renameat(struct trace_event_raw_sys_enter *ctx)
{
	if (!agent__active())
		return 0;
	return config_rename__enter((int)ctx->args[2], (const char *)ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_enter_renameat2")
int tracepoint__syscalls__sys_enter_renameat2(struct trace_event_raw_sys_enter *ctx)
{
	if (!agent__active())
		return 0;
	return config_rename__enter((int)ctx->args[2], (const char *)ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_exit_rename")
int tracepoint__syscalls__sys_exit_rename(struct trace_event_raw_sys_exit *ctx)
{
	if (!agent__active())
		return 0;
	return config_rename__exit(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_renameat")
int tracepoint__syscalls__sys_exit_renameat(struct trace_event_raw_sys_exit *ctx)
{
	if (!agent__active())
		return 0;
	return config_rename__exit(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_renameat2")
int tracepoint__syscalls__sys_exit_renameat2(struct trace_event_raw_sys_exit *ctx)
{
	if (!agent__active())
		return 0;
	return config_rename__exit(ctx, ctx->ret);
}

/* connect(fd, uaddr, addrlen) is called: a call to a watched address (or
 * one that may reach a watched socket) is kept until it returns. */
static __always_inline int connect__enter(__u32 fd, const char *uaddr, __u64 addrlen)
{
	struct pending_connect pending = {};
	__u16 family = 0;
	__u32 tid;
	int found;

	if (!agent__active())
		return 0;

	if (addrlen >= sizeof(family) && !bpf_probe_read_user(&family, sizeof(family), uaddr) &&
	    (family == AF_INET || family == AF_INET6)) {
		found = inet_addr__read(uaddr, addrlen, family, &pending.inet);
		if (found == ADDR_OTHER)
			return 0;
		if (found == ADDR_WATCHED) {
			/* A fresh TCP connect only: not UDP, not a connect() called
			 * again on a socket already connecting or connected. */
			struct sock *sk = fd__sock(fd);
			__u64 key = (__u64)sk;
			__s32 zero = 0;

			if (!sk || BPF_CORE_READ(sk, sk_type) != SOCK_STREAM ||
			    BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_CLOSE)
				return 0;
			pending.tcp = 1;
			/* Its handshake may end before the call returns. */
			bpf_map_update_elem(&tcp_outcome, &key, &zero, BPF_ANY);
		}
	} else {
		found = unix_addr__read(uaddr, addrlen, &pending.addr);
	}
	if (found == ADDR_OTHER)
		return 0;
	/* An unwatched path only matters if something is watched by identity;
	 * which socket it reaches is known at exit. */
	if (found == ADDR_UNIX_PATH && !watching_inodes)
		return 0;
	pending.watched = found == ADDR_WATCHED;
	pending.fd = fd;
	/* Unreadable now (tracepoints cannot fault pages in): the kernel will
	 * fault it in for the call itself, so read it again at exit. */
	if (found == ADDR_UNREADABLE) {
		pending.uaddr = (__u64)uaddr;
		pending.addrlen = addrlen;
		pending.unread = 1;
	}
	tid = (__u32)bpf_get_current_pid_tgid();
	if (!(pending.watched || pending.tcp || pending.unread)) {
		bpf_map_update_elem(&pending_maybe, &tid, &pending, BPF_ANY);
		return 0;
	}
	/* A full table loses a watched call: counted. */
	if (bpf_map_update_elem(&pending_connect, &tid, &pending, BPF_ANY))
		counter__inc(SW_COUNTER_DROP_PENDING);
	return 0;
}

/* The destination of a TCP socket as the kernel holds it after connect():
 * ADDR_WATCHED when its port is a watched one (inet filled in). What the
 * caller passed may have changed in its memory since. */
static __always_inline int inet_sock__read(struct sock *sk, __u16 family,
					   struct sw_inet_addr *inet)
{
	__u16 port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	__u32 v4;

	if (!watching_tcp || port == 0 || !bpf_map_lookup_elem(&watched_tcp_port, &port))
		return ADDR_OTHER;
	inet->family = family;
	inet->port = port;
	if (family == AF_INET) {
		v4 = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(inet->addr, &v4, sizeof(v4));
	} else if (bpf_core_field_exists(sk->__sk_common.skc_v6_daddr)) {
		BPF_CORE_READ_INTO(&inet->addr, sk, __sk_common.skc_v6_daddr);
	}
	return ADDR_WATCHED;
}

/* connect() returned ret: a call kept at enter is reported. */
static __always_inline int connect__exit(void *ctx, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending_connect *found_entry, pending;
	struct sw_event *e;
	__u32 flags, fd, late = 0;
	int found;

	if (!agent__active())
		return 0;

	/* Copied out at once: a deleted entry may be reused by another CPU. */
	found_entry = bpf_map_lookup_elem(&pending_connect, &tid);
	if (found_entry) {
		pending = *found_entry;
		bpf_map_delete_elem(&pending_connect, &tid);
	} else {
		found_entry = bpf_map_lookup_elem(&pending_maybe, &tid);
		if (!found_entry)
			return 0;
		pending = *found_entry;
		bpf_map_delete_elem(&pending_maybe, &tid);
	}
	e = scratch__get();
	if (!e)
		return 0;
	__builtin_memset(&e->peer, 0, sizeof(e->peer));
	__builtin_memset(&e->inet, 0, sizeof(e->inet));
	__builtin_memset(&e->matched, 0, sizeof(e->matched));
	e->matched_depth = 0;
	flags = 0;
	fd = pending.fd;
	if (pending.tcp) {
		__builtin_memcpy(&e->inet, &pending.inet, sizeof(e->inet));
		__builtin_memset(&e->addr, 0, sizeof(e->addr));
		e->exec_path[0] = 0;
		e->ret = (__s32)ret;
		tcp_connect__finish(ctx, e, fd);
		return 0;
	}
	if (pending.unread) {
		/* The address could only be read now, after the call, from memory
		 * the caller may have changed meanwhile: the kind of socket and a
		 * TCP destination come from the kernel's own state instead, and a
		 * unix call is matched by what it reached. */
		const char *uaddr = (const char *)pending.uaddr;
		struct sock *sk = fd__sock(fd);
		__u16 sk_family = sk ? BPF_CORE_READ(sk, __sk_common.skc_family) : 0;
		__u16 family = 0;

		if (sk_family == AF_INET || sk_family == AF_INET6) {
			found = inet_sock__read(sk, sk_family, &e->inet);
			/* No destination kept (a call that failed at once): the
			 * caller's memory is all there is. */
			if (found != ADDR_WATCHED &&
			    !bpf_probe_read_user(&family, sizeof(family), uaddr) &&
			    family == sk_family)
				found = inet_addr__read(uaddr, pending.addrlen, family, &e->inet);
			if (found == ADDR_UNREADABLE)
				counter__inc(SW_COUNTER_ADDR_UNREADABLE);
			if (found != ADDR_WATCHED)
				return 0;
			__builtin_memset(&e->addr, 0, sizeof(e->addr));
			e->exec_path[0] = 0;
			e->ret = (__s32)ret;
			tcp_connect__finish(ctx, e, fd);
			return 0;
		}
		if (sk_family != AF_UNIX)
			return 0;
		__builtin_memset(&e->addr, 0, sizeof(e->addr));
		found = unix_addr__read(uaddr, pending.addrlen, &e->addr);
		if (found == ADDR_WATCHED)
			flags |= SW_FLAG_MATCHED_PATH;
		late = found == ADDR_UNREADABLE ? SW_COUNTER_ADDR_UNREADABLE : SW_COUNTER_ADDR_LATE;
	} else {
		__builtin_memcpy(&e->addr, &pending.addr, sizeof(e->addr));
		if (pending.watched)
			flags |= SW_FLAG_MATCHED_PATH;
	}
	/* Connected: what it reached, for the record, and to match by identity. */
	if (ret == 0 && unix_peer__read(fd, &e->peer)) {
		flags |= SW_FLAG_PEER_KNOWN;
		if (e->peer.id.ino && bpf_map_lookup_elem(&watched_unix_inode, &e->peer.id))
			flags |= SW_FLAG_MATCHED_PEER;
	}
	/* Read late and matched nothing: a call that may have been to a watched
	 * socket under an address changed meanwhile. Counted. */
	if (late && !(flags & (SW_FLAG_MATCHED_PATH | SW_FLAG_MATCHED_PEER)))
		counter__inc(late);
	if (!(flags & (SW_FLAG_MATCHED_PATH | SW_FLAG_MATCHED_PEER)))
		return 0;
	e->exec_path[0] = 0;
	e->ret = (__s32)ret;
	event__fill(ctx, e, SW_EVENT_CONNECT, flags);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int tracepoint__syscalls__sys_enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	return connect__enter((__u32)ctx->args[0], (const char *)ctx->args[1], (__u32)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_connect")
int tracepoint__syscalls__sys_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	return connect__exit(ctx, ctx->ret);
}

/*
 * The exec probe on the BTF raw tracepoint (tp_btf): the kernel hands the
 * program its arguments as they are, without formatting a trace record
 * first. Loaded instead of the tracepoint above where the kernel allows it
 * (the agent tries it first and falls back). The syscall probes have no
 * such replacement here: fentry/fexit and BPF LSM programs need BPF
 * trampolines, which kernels may refuse (see README, "Kernel hooks").
 */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(tp_btf__sched__sched_process_exec, struct task_struct *p, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	if (!agent__active())
		return 0;
	return exec__report(ctx, bprm->filename, p);
}

/*
 * The raw tracepoint set: every link of these can be pinned on any kernel
 * with BPF ring buffers, while a classic tracepoint's link can be pinned only
 * from Linux 5.15 on (BPF perf-event links). The agent loads these where it
 * must pin and the kernel is older. The syscall programs run for every
 * syscall on the node and leave at once for all but the watched ones.
 */

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
