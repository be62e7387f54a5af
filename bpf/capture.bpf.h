// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Filling a record: the task, its ancestry, cgroup, executable and argv,
 * with the per-process context kept between records, and sending it. The
 * walks are global (__noinline) functions, each verified once on its own
 * rather than once per path of every caller: that is what keeps the largest
 * program at about 2 % of the verifier's budget on Linux 5.10.
 */
#ifndef SHIMWATCH_CAPTURE_BPF_H
#define SHIMWATCH_CAPTURE_BPF_H

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

#define PF_IO_WORKER 0x00000010

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
	/* io_uring runs a request the process could not finish at once in a
	 * worker thread of that process, named iou-wrk-<tid>: the record names
	 * the process, and says how it made the call. */
	if (BPF_CORE_READ(task, flags) & PF_IO_WORKER) {
		struct task_struct *leader = BPF_CORE_READ(task, group_leader);

		bpf_probe_read_kernel_str(e->task.comm, sizeof(e->task.comm), leader->comm);
		e->flags |= SW_FLAG_IO_URING;
	}
	capture__context();
	return capture__args();
}

static __always_inline void event__fill(void *ctx, struct sw_event *e, __u32 type, __u32 flags)
{
	event__submit(ctx, e, event__capture(e, type, flags));
}

#endif /* SHIMWATCH_CAPTURE_BPF_H */
