// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * exec: a successful execve of a watched binary, by name (comm), by file
 * identity, or the first run of a binary for the agent's build-id check; on
 * the classic tracepoint, or the BTF one where the kernel allows it.
 */
#ifndef SHIMWATCH_EXEC_BPF_H
#define SHIMWATCH_EXEC_BPF_H

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

#endif /* SHIMWATCH_EXEC_BPF_H */
