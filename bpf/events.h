/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The ABI between the BPF probes and the shimwatch agent.
 *
 * Fixed-width types only; all fields aligned, not packed; padding written out.
 * The C++ side checks sizes and key offsets with static_assert
 * (src/decode/decode.cpp). Type codes, counter indexes and flags are never
 * renumbered: add new ones at the end.
 */
#ifndef SHIMWATCH_BPF_EVENTS_H
#define SHIMWATCH_BPF_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SW_COMM_LEN 16
/* Bytes of a unix socket name (sizeof sockaddr_un.sun_path). */
#define SW_UNIX_PATH_MAX 108
/* Bytes kept of the path passed to execve(). */
#define SW_EXEC_PATH_MAX 256
/* Bytes of argv copied from the process, NUL separated as in the kernel. */
#define SW_ARGS_MAX 4096
/* Executable path: components, leaf first, each NUL terminated. The last
 * SW_EXE_SLACK bytes only give the verifier room for one more component. */
#define SW_EXE_DATA 512
#define SW_EXE_SLACK 256
#define SW_EXE_BUF (SW_EXE_DATA + SW_EXE_SLACK)
/* Directory levels walked to build the executable path. */
#define SW_EXE_DEPTH 32
/* Innermost cgroup levels captured, names packed innermost first, each NUL
 * terminated, with the same slack scheme as the executable path. */
#define SW_CGROUP_LEVELS 8
#define SW_CGROUP_DATA 512
#define SW_CGROUP_SLACK 256
#define SW_CGROUP_BUF (SW_CGROUP_DATA + SW_CGROUP_SLACK)
/* Ancestors captured, nearest first. */
#define SW_ANCESTORS_MAX 8

enum sw_event_type {
	SW_EVENT_EXEC = 1,
	SW_EVENT_CONNECT = 2,
	SW_EVENT_TCP_CONNECT = 3,
	SW_EVENT_CONFIG_OPEN = 4,
	SW_EVENT_CONFIG_RENAME = 5,
};

/* Indexes into the per-CPU `counters` map. */
enum sw_counter {
	SW_COUNTER_EMITTED = 0,		/* events written to the ring buffer */
	SW_COUNTER_DROP_RINGBUF = 1,	/* ring buffer full: event lost */
	SW_COUNTER_DROP_PENDING = 2,	/* in-flight connect table full: event lost */
	SW_COUNTER_ARGS_UNREADABLE = 3, /* argv pages not resident: event sent without argv */
	SW_COUNTER_ADDR_UNREADABLE = 4, /* connect address unreadable even at exit: event lost */
	SW_COUNTER_ADDR_LATE = 5,	/* unix connect address readable only at exit, and matching
					   nothing then: it may have been changed meanwhile */
	SW_COUNTER__MAX = 6,
};

/* The layout of records and maps. A running agent hands its pinned maps
 * (ring buffer, filters, calls in flight) to its successor only when both
 * have the same version: raise it whenever a record or map value changes. */
#define SW_ABI_VERSION 2

/* The one entry of the pinned `agent_state` map. Each loaded copy of the
 * programs has a generation of its own and records only while it is the
 * active one: a new agent attaches its programs next to the old ones, then
 * makes them active in one write, so that a restart neither loses nor
 * doubles an event. */
struct sw_agent_state {
	__u32 generation; /* the programs that record */
	__u32 abi;	  /* SW_ABI_VERSION of the agent that wrote it */
	/* Kept by the agents, never read by the programs: the losses (by enum
	 * sw_counter) already reported in gap records, and when (unix ns), so
	 * that a successor reports exactly what was lost while none ran. */
	__u64 losses_checked_ns;
	__u64 losses_reported[8];
};

/* sw_event.flags */
#define SW_FLAG_ARGS_TRUNCATED (1U << 0)
#define SW_FLAG_ARGS_UNREADABLE (1U << 1)
#define SW_FLAG_EXE_TRUNCATED (1U << 2)
#define SW_FLAG_EXEC_PATH_TRUNCATED (1U << 3)
#define SW_FLAG_CGROUP_TRUNCATED (1U << 4)   /* levels above the captured ones exist */
#define SW_FLAG_ANCESTRY_TRUNCATED (1U << 5) /* ancestors above the captured ones exist */
#define SW_FLAG_MATCHED_PATH (1U << 6)	     /* connect: the passed address is watched */
#define SW_FLAG_MATCHED_PEER (1U << 7)	     /* connect: the socket it reached is watched */
#define SW_FLAG_PEER_KNOWN (1U << 8)	     /* connect: peer below is filled in */
#define SW_FLAG_COMPLETED_LATER (1U << 9)    /* tcp connect: ret is how the handshake ended */
#define SW_FLAG_EXEC_IDENTITY (1U << 10)     /* exec: the file is a watched binary by identity */
#define SW_FLAG_OPEN_WRITE (1U << 11)	     /* config open: opened for writing */
#define SW_FLAG_EXEC_NEW_BINARY                                                                    \
	(1U << 12)			   /* exec: first run of a binary not matched otherwise;   \
						user space checks its build-id */
#define SW_FLAG_OPEN_CREATED (1U << 13)	   /* config open: the open created the file */
#define SW_FLAG_RENAME_ABSOLUTE (1U << 14) /* config rename: exec_path is the new absolute path */
#define SW_FLAG_IO_URING (1U << 15)	   /* made by an io_uring worker of the process, for it */

/* The first bytes of the watched configuration paths, for renames to an
 * absolute path (a rename names a path the kernel cannot look up from a
 * probe): a cheap filter; the agent compares the whole path. */
#define SW_CONFIG_PREFIXES 16
struct sw_config_prefix {
	__u64 word[2]; /* the path's first 16 bytes, zero padded */
	__u64 mask[2]; /* 0xff for each byte that counts; all zero: unused */
};

/* sw_cgroup_info.hierarchy: where the names come from. */
#define SW_CGROUP_HIERARCHY_V2 0
/* Values above 0 are a cgroup v1 controller: its subsys id + 1. */

/* Every record starts with this header; size is the record's byte count. */
struct sw_event_header {
	__u32 type;
	__u32 size;
	__u64 ktime_ns; /* CLOCK_BOOTTIME */
};

/* Who did it, read from the task at the time of the event. */
struct sw_task_info {
	__u32 pid; /* thread group id in the initial pid namespace */
	__u32 tid;
	__u32 ppid; /* real parent's thread group id */
	__u32 uid;
	__u32 gid;
	__u32 mnt_ns; /* inode numbers of the task's namespaces */
	__u32 pid_ns;
	__u32 pad;
	__u64 cgroup_id; /* cgroup v2 id (bpf_get_current_cgroup_id) */
	char comm[SW_COMM_LEN];
	char parent_comm[SW_COMM_LEN];
};

/* One ancestor of the task, read from the live chain of real_parent links. */
struct sw_ancestor {
	__u32 pid;
	__u32 pid_ns; /* its pid namespace: a change marks a container boundary */
	__u64 start_boottime_ns;
	char comm[SW_COMM_LEN];
};

/* The cgroup the task is in: the cgroup v2 one, or on a cgroup v1 host the
 * pids (else memory) controller's. */
struct sw_cgroup_info {
	__u32 hierarchy; /* SW_CGROUP_HIERARCHY_V2 or a v1 subsys id + 1 */
	__u32 level;	 /* depth of the cgroup; the root is 0 */
	__u16 names_size;
	__u16 levels; /* names captured */
	__u32 pad;
	char names[SW_CGROUP_BUF];
};

/* A unix socket address as a map key: len bytes of path, the rest zero.
 * Abstract names (sun_path[0] == 0) keep their leading NUL and set abstract,
 * so they can never equal a filesystem path. */
struct sw_unix_addr {
	__u32 len;
	__u8 abstract;
	__u8 pad[3];
	char path[SW_UNIX_PATH_MAX];
};

/* The identity of a socket file as a map key: the inode number and the
 * kernel's encoding of its filesystem's device (major << 20 | minor). */
struct sw_inode_key {
	__u64 ino;
	__u32 dev;
	__u32 pad;
};

/* What a successful unix connect reached: the listening socket's bound name
 * (as its server bound it, leading NUL kept for abstract names) and the
 * identity of its socket file (zero for abstract sockets). */
struct sw_unix_peer {
	struct sw_inode_key id;
	__u16 len;
	__u8 abstract;
	__u8 pad[5];
	char path[SW_UNIX_PATH_MAX];
	__u32 pad2;
};

/* sw_inet_addr.family: the kernel's AF_INET and AF_INET6. */
#define SW_AF_INET 2
#define SW_AF_INET6 10

/* An IPv4 or IPv6 destination of connect(). */
struct sw_inet_addr {
	__u16 family; /* AF_INET or AF_INET6 */
	__u16 port;   /* host byte order */
	__u32 pad;
	__u8 addr[16]; /* network byte order; IPv4 in the first 4 bytes */
};

/* A binary as the kernel saw it at exec: a copy written over an old file
 * keeps the inode but rarely the size. */
struct sw_binary_key {
	__u64 ino;
	__u64 size;
	__u32 dev;
	__u32 pad;
};

/* Key of the watched executable map: a basename cut and NUL padded to
 * comm length, as exec leaves it in task->comm. */
struct sw_exec_name {
	char name[SW_COMM_LEN];
};

/* What a record says about a process that does not change from one of its
 * calls to the next, kept per process in the kernel (process_context):
 * walking the ancestry, the executable's path and the cgroup names again
 * for each call was most of the cost of a matched call. Valid while the
 * task still has the same executable file, real parent and css_set, and the
 * thread group the same start time (a reused pid). */
struct sw_process_context {
	__u64 exe_file; /* the kernel pointers it was captured from */
	__u64 parent;
	__u64 css_set;
	__u64 start_boottime_ns;
	__u32 flags; /* SW_FLAG_{EXE,CGROUP,ANCESTRY}_TRUNCATED as captured */
	__u16 exe_size;
	__u16 ancestors;
	/* The same layout as in sw_event, where these two follow each other. */
	struct sw_ancestor ancestor[SW_ANCESTORS_MAX];
	struct sw_cgroup_info cgroup;
	char exe[SW_EXE_BUF];
};

/* One record. Only offsetof(args) + args_size bytes are sent. */
struct sw_event {
	struct sw_event_header hdr;
	struct sw_task_info task;
	__s32 ret; /* connect: return value (0 or -errno); exec: 0 */
	__u32 flags;
	struct sw_unix_addr addr; /* connect: the address passed by the caller */
	__u32 pad0;
	struct sw_unix_peer peer; /* connect: what it reached (SW_FLAG_PEER_KNOWN) */
	struct sw_inet_addr inet; /* tcp connect: the destination */
	/* config open: the watched file or directory it matched, and how many
	 * levels below it the file is; exec_path holds the names of those
	 * levels, leaf first, each NUL terminated. exec: the identity of the
	 * file it runs, matched_depth its size (bytes, capped at 4 GiB - 1). */
	struct sw_inode_key matched;
	__u32 matched_depth;
	__u32 pad1;
	__u16 exe_size;	 /* bytes used in exe */
	__u16 args_size; /* bytes used in args */
	__u16 ancestors; /* entries used in ancestor */
	__u16 pad16;
	__u32 pad;
	struct sw_ancestor ancestor[SW_ANCESTORS_MAX];
	struct sw_cgroup_info cgroup;
	char exec_path[SW_EXEC_PATH_MAX]; /* exec: the path passed to execve() */
	char exe[SW_EXE_BUF];
	char args[SW_ARGS_MAX];
};

#endif /* SHIMWATCH_BPF_EVENTS_H */
