// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Docker's configuration: opens (read or write) of watched files and files
 * under watched directories, and renames that put a file there.
 */
#ifndef SHIMWATCH_CONFIG_BPF_H
#define SHIMWATCH_CONFIG_BPF_H

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

#define FMODE_WRITE 0x2
#define FMODE_PATH 0x4000
#define FMODE_CREATED 0x100000

/* A file opened: reported when it, or a directory up to CONFIG_DEPTH levels
 * above it, is watched Docker configuration. Matching by identity once the
 * file is open covers relative paths, bind mounts and symlinks, and needs
 * no string read on the way in, for an open that is almost never ours. */
static __always_inline int config_open__file(void *ctx, struct file *file)
{
	struct sw_inode_key id = {};
	struct dentry *dentry, *walk;
	struct sw_event *e;
	__u32 depth = 0, pos = 0, flags = 0;
	bool found = false;
	__u8 *kind;

	if (!watching_config || !file)
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
		/* The mask, not the check above, is the bound 5.10's verifier
		 * follows: clang must not drop it as redundant. */
		barrier_var(pos);
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

/* An open syscall returned fd. */
static __always_inline int config_open__exit(void *ctx, long fd)
{
	if (!watching_config || fd < 0)
		return 0;
	return config_open__file(ctx, fd__file((__u32)fd));
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

/* Whether a rename to name (relative to directory fd dfd unless absolute)
 * lands in watched configuration: then e's exec_path, matched and
 * matched_depth say where, and the flags of its record are returned; else
 * -1. An absolute destination is compared as a string with the watched
 * paths; a relative one by the identity of the directory it is relative to
 * (a watched directory's tree, or a watched file's parent). */
static __always_inline long config_rename__prepare(struct sw_event *e, long dfd, const char *name,
						   bool user)
{
	struct sw_inode_key id = {};
	struct dentry *dir = NULL, *walk;
	__u32 flags = 0, depth = 0, pos = SW_EXEC_PATH_MAX / 2;
	bool matched = false;
	__u8 *kind;
	long n;

	__builtin_memset(e->exec_path, 0, sizeof(e->exec_path));
	n = mem__read_str(e->exec_path, SW_EXEC_PATH_MAX / 2, name, user);
	if (n <= 1)
		return -1;
	if (e->exec_path[0] == '/') {
		if (!config_prefix__match(e->exec_path))
			return -1;
		flags |= SW_FLAG_RENAME_ABSOLUTE;
	} else {
		if (dfd == AT_FDCWD) {
			struct task_struct *task = (struct task_struct *)bpf_get_current_task();

			dir = BPF_CORE_READ(task, fs, pwd.dentry);
		} else if (dfd >= 0) {
			struct file *file = fd__file((__u32)dfd);

			if (file)
				dir = BPF_CORE_READ(file, f_path.dentry);
		}
		if (!dir)
			return -1;
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
			return -1;
		/* The directories between the watched one and the base, leaf
		 * first, in the second half of exec_path. */
		walk = dir;
		for (int i = 0; i < CONFIG_DEPTH; i++) {
			if (i >= depth || pos >= SW_EXEC_PATH_MAX - SW_EXEC_PATH_MAX / 4)
				break;
			barrier_var(pos);
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
	return flags;
}

/* Sends the rename prepared in e, which succeeded. */
static __always_inline void config_rename__fill(void *ctx, struct sw_event *e, __u32 flags)
{
	__builtin_memset(&e->addr, 0, sizeof(e->addr));
	__builtin_memset(&e->peer, 0, sizeof(e->peer));
	__builtin_memset(&e->inet, 0, sizeof(e->inet));
	e->ret = 0;
	event__fill(ctx, e, SW_EVENT_CONFIG_RENAME, flags);
}

/* A rename syscall returned ret: reported when it succeeded and its
 * destination is, or is under, watched configuration. */
static __always_inline int config_rename__exit(void *ctx, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending_rename *found;
	struct pending_rename pending;
	struct sw_event *e;
	long flags;

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
	flags = config_rename__prepare(e, pending.dfd, (const char *)pending.name, true);
	if (flags < 0)
		return 0;
	config_rename__fill(ctx, e, flags);
	return 0;
}

/* A rename prepared on the way in (the function set, where the new name is
 * gone by the way out), until it returns: thread id -> where it lands. */
struct prepared_rename {
	__u32 flags;
	__u32 depth;
	struct sw_inode_key matched;
	char path[SW_EXEC_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct prepared_rename);
} prepared_rename SEC(".maps");

/* A rename begins: kept when it may land in watched configuration. */
static __always_inline int config_rename__match(long dfd, const char *name, bool user)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct prepared_rename *kept;
	struct sw_event *e = scratch__get();
	long flags;

	if (!e)
		return 0;
	flags = config_rename__prepare(e, dfd, name, user);
	if (flags < 0)
		return 0;
	/* Built in the scratch record, then stored: a stack this large would
	 * not fit BPF's. */
	kept = (struct prepared_rename *)e->args;
	_Static_assert(sizeof(((struct sw_event *)0)->args) >= sizeof(struct prepared_rename),
		       "a prepared rename fits the scratch record's argument space");
	kept->flags = flags;
	kept->depth = e->matched_depth;
	kept->matched = e->matched;
	__builtin_memcpy(kept->path, e->exec_path, sizeof(kept->path));
	bpf_map_update_elem(&prepared_rename, &tid, kept, BPF_ANY);
	return 0;
}

/* A rename kept on the way in returned ret. */
static __always_inline int config_rename__send(void *ctx, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct prepared_rename *kept = bpf_map_lookup_elem(&prepared_rename, &tid);
	struct sw_event *e;
	__u32 flags;

	if (!kept)
		return 0;
	e = scratch__get();
	if (!e) {
		bpf_map_delete_elem(&prepared_rename, &tid);
		return 0;
	}
	/* Copied out before the delete: a deleted entry may be reused by
	 * another CPU. */
	flags = kept->flags;
	e->matched_depth = kept->depth;
	e->matched = kept->matched;
	bpf_probe_read_kernel(e->exec_path, sizeof(e->exec_path), kept->path);
	bpf_map_delete_elem(&prepared_rename, &tid);
	if (ret != 0)
		return 0;
	config_rename__fill(ctx, e, flags);
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

#endif /* SHIMWATCH_CONFIG_BPF_H */
