// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * connect: calls to a watched unix socket by its path, or by the identity
 * of the socket reached under any other path; TCP connects to the Docker
 * API ports, sent once their handshake ends. An address the caller's page
 * did not hold yet is read at exit, where the kernel's own state decides.
 */
#ifndef SHIMWATCH_CONNECT_BPF_H
#define SHIMWATCH_CONNECT_BPF_H

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

/* Reading the caller's address: */
#define ADDR_WATCHED 0	  /* a watched unix socket address, in key */
#define ADDR_OTHER 1	  /* not a unix socket path: not our business */
#define ADDR_UNREADABLE 2 /* the page is not resident: try again at exit */
#define ADDR_UNIX_PATH 3  /* a unix socket path not watched: what it reaches may be */

/* The sockaddr passed to connect() as a filter key; key must be zeroed. */
static __always_inline int unix_addr__read(const char *uaddr, __u64 addrlen,
					   struct sw_unix_addr *key, bool user)
{
	const char *name = uaddr + SUN_PATH_OFFSET;
	__u16 family = 0;
	__u64 name_len;
	char first = 0;
	long n;

	/* An address with no name cannot be a watched socket. */
	if (addrlen <= SUN_PATH_OFFSET || addrlen > 1024)
		return ADDR_OTHER;
	if (mem__read(&family, sizeof(family), uaddr, user))
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
	if (mem__read(&first, 1, name, user))
		return ADDR_UNREADABLE;

	if (first == 0) {
		/* Abstract: the name is exactly addrlen bytes, NULs included. */
		if (mem__read(key->path, name_len, name, user))
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
		n = mem__read_str(key->path, name_len, name, user);
		if (n < 0)
			return ADDR_UNREADABLE;
		key->len = n > 0 ? n - 1 : 0;
		if (n == name_len) {
			__u64 last = name_len - 1;

			barrier_var(last);
			if (last >= SW_UNIX_PATH_MAX)
				return ADDR_OTHER;
			if (mem__read(&key->path[last], 1, name + last, user))
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

/* The socket that unix socket sk is connected to: its bound name and file
 * identity. False when sk is no connected unix socket. */
static __always_inline bool unix_peer__read(struct sock *sk, struct sw_unix_peer *peer)
{
	struct unix_address *addr;
	struct unix_sock *u, *up;
	struct dentry *dentry;
	const char *src;
	char tail = 1;
	__u32 len;

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
					   struct sw_inet_addr *inet, bool user)
{
	__u16 port_be = 0, port;

	if (!watching_tcp)
		return ADDR_OTHER;
	/* sin_port and sin6_port are both at offset 2. */
	if (addrlen < 4 || mem__read(&port_be, sizeof(port_be), uaddr + 2, user))
		return addrlen < 4 ? ADDR_OTHER : ADDR_UNREADABLE;
	port = bpf_ntohs(port_be);
	if (!bpf_map_lookup_elem(&watched_tcp_port, &port))
		return ADDR_OTHER;
	inet->family = family;
	inet->port = port;
	if (family == AF_INET) {
		/* sin_addr at offset 4 */
		if (addrlen < 8 || mem__read(inet->addr, 4, uaddr + 4, user))
			return addrlen < 8 ? ADDR_OTHER : ADDR_UNREADABLE;
	} else {
		/* sin6_addr at offset 8 */
		if (addrlen < 24 || mem__read(inet->addr, 16, uaddr + 8, user))
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
static __always_inline void tcp_connect__finish(void *ctx, struct sw_event *e, struct sock *sk)
{
	__u64 args_len = event__capture(e, SW_EVENT_TCP_CONNECT, 0);
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

/* A connect to a watched TCP destination begins on sk: registered when it
 * is a fresh TCP connect (not UDP, not a connect() called again on a socket
 * already connecting or connected, as io_uring does to learn how its
 * handshake ended), since its handshake may end before the call returns. */
static __always_inline bool tcp_connect__register(struct sock *sk)
{
	__u64 key = (__u64)sk;
	__s32 zero = 0;

	if (!sk || BPF_CORE_READ(sk, sk_type) != SOCK_STREAM ||
	    BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_CLOSE)
		return false;
	bpf_map_update_elem(&tcp_outcome, &key, &zero, BPF_ANY);
	return true;
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
		found = inet_addr__read(uaddr, addrlen, family, &pending.inet, true);
		if (found == ADDR_OTHER)
			return 0;
		if (found == ADDR_WATCHED) {
			if (!tcp_connect__register(fd__sock(fd)))
				return 0;
			pending.tcp = 1;
		}
	} else {
		found = unix_addr__read(uaddr, addrlen, &pending.addr, true);
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
static __always_inline int inet_sock__read(struct sock *sk, __u16 family, struct sw_inet_addr *inet)
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

/* A unix connect that returned ret, its address in e->addr (flags says
 * whether that address is watched): reported when it or the socket it
 * reached is watched. late: the counter of a call whose address was read
 * after the call, counted when it matched nothing. */
static __always_inline int connect__report_unix(void *ctx, struct sw_event *e, struct sock *sk,
						long ret, __u32 flags, __u32 late)
{
	/* Connected: what it reached, for the record, and to match by identity. */
	if (ret == 0 && unix_peer__read(sk, &e->peer)) {
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
		tcp_connect__finish(ctx, e, fd__sock(fd));
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
				found =
				    inet_addr__read(uaddr, pending.addrlen, family, &e->inet, true);
			if (found == ADDR_UNREADABLE)
				counter__inc(SW_COUNTER_ADDR_UNREADABLE);
			if (found != ADDR_WATCHED)
				return 0;
			__builtin_memset(&e->addr, 0, sizeof(e->addr));
			e->exec_path[0] = 0;
			e->ret = (__s32)ret;
			tcp_connect__finish(ctx, e, sk);
			return 0;
		}
		if (sk_family != AF_UNIX)
			return 0;
		__builtin_memset(&e->addr, 0, sizeof(e->addr));
		found = unix_addr__read(uaddr, pending.addrlen, &e->addr, true);
		if (found == ADDR_WATCHED)
			flags |= SW_FLAG_MATCHED_PATH;
		late = found == ADDR_UNREADABLE ? SW_COUNTER_ADDR_UNREADABLE : SW_COUNTER_ADDR_LATE;
	} else {
		__builtin_memcpy(&e->addr, &pending.addr, sizeof(e->addr));
		if (pending.watched)
			flags |= SW_FLAG_MATCHED_PATH;
	}
	return connect__report_unix(ctx, e, fd__sock(fd), ret, flags, late);
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

#endif /* SHIMWATCH_CONNECT_BPF_H */
