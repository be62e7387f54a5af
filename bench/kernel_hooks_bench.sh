#!/bin/sh
# The kernel-hooks benchmark's rounds on one kernel, as root on a node of its
# own (a VM booted by bench/kernel_hooks_bench.py, or this machine in a
# private mount namespace): per round, each configuration (no agent, the
# agent on classic tracepoints, the agent with its default hooks: kernel
# functions where allowed) in a rotating order, and under each the cost of a
# getpid(), an open and an unwatched connect. Prints "@@ " lines.
#   kernel_hooks_bench.sh BUILD_DIR
# The loop binary is BUILD_DIR/agent-bench/bench/shimwatch_syscall_cost (make
# bench builds it there).
build=$1
cost=$build/agent-bench/bench/shimwatch_syscall_cost
rounds=5
for dir in /tmp /run /etc/docker; do
	mount -t tmpfs -o mode=0755 tmpfs "$dir" || { echo "@@ error: cannot mount tmpfs on $dir"; exit 1; }
done
chmod 1777 /tmp
echo
echo "@@ kernel $(uname -r)"
agent=
start_agent() {
	"$build/shimwatch" run --hooks "$1" --metrics-address off --no-dedupe >/dev/null 2>/tmp/agent.log &
	agent=$!
	i=0
	until grep -q ' ready: ' /tmp/agent.log 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 600 ] || ! kill -0 $agent 2>/dev/null; then
			echo "@@ error: the agent (--hooks $1) did not start: $(tail -3 /tmp/agent.log)"
			exit 1
		fi
		sleep 0.1
	done
	echo "@@ hooks $1 $(grep -o 'kernel hooks: .*' /tmp/agent.log | head -1)"
}
stop_agent() {
	kill -INT $agent
	wait $agent
}
configs="none tracepoints auto"
round=1
while [ $round -le "$rounds" ]; do
	for config in $configs; do
		[ "$config" = none ] || start_agent "$config"
		for workload in getpid:200000 open:20000 connect:5000; do
			name=${workload%%:*}
			ns=$("$cost" "$name" "${workload#*:}" | sed -n 's/^ns_per_call //p')
			echo "@@ bench $round $config $name $ns"
		done
		[ "$config" = none ] || stop_agent
	done
	# Rotate: each configuration runs first, second and last in turn.
	configs="${configs#* } ${configs%% *}"
	round=$((round + 1))
done
echo "@@ bench done"
