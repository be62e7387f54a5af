#!/bin/busybox sh
# /init of the kernel matrix's initramfs (kernel_matrix.py builds it): loads
# the virtio and 9p modules of the kernel under test, mounts this machine's
# root read-only over virtio-9p, and runs the cases script in it. The kernel
# command line names the script (sw.script=) and the build directory
# (sw.build=); everything it prints reaches the host on the serial console.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for module in /modules/*.ko; do
	insmod "$module" || echo "@@ insmod $module failed"
done
if ! mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /root; then
	echo "@@ error: the host's root could not be mounted over 9p"
	poweroff -f
fi
ip link set lo up
for dir in proc sys dev; do
	mount --bind "/$dir" "/root/$dir"
done
mount -t cgroup2 cgroup2 /root/sys/fs/cgroup
script=$(sed -n 's/.*sw\.script=\([^ ]*\).*/\1/p' /proc/cmdline)
build=$(sed -n 's/.*sw\.build=\([^ ]*\).*/\1/p' /proc/cmdline)
chroot /root /bin/sh "$script" "$build"
echo "@@ exit $?"
poweroff -f
