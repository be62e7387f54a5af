#!/usr/bin/env python3
"""`docker run` arguments that reproduce the rendered DaemonSet's container.

  daemonset_to_docker.py [--bpf-as-sys-admin] [--privileged-as-capabilities]
                         KUSTOMIZE_DIR OUT_DIR HOST_PATH_ROOT

Writes the ConfigMap's files to OUT_DIR/config/ and prints one argument per
line: host PID and network namespaces, privileged or the capabilities, read-only
root, NODE_NAME, memory and CPU limits, every volume (configMap from
OUT_DIR/config; DirectoryOrCreate hostPaths under HOST_PATH_ROOT so a test does
not write to the node's /var/log; other hostPaths as they are), then the image
placeholder @IMAGE@ and the container's args. Fails on anything it does not
know how to translate, so the test never runs something else than the manifest.
--bpf-as-sys-admin: for engines that do not know CAP_BPF and CAP_PERFMON
(Docker before 23), CAP_SYS_ADMIN in their place (it includes both).
--privileged-as-capabilities: for machines whose own capability bounding set
lacks some capabilities, where `docker run --privileged` cannot start any
container: a privileged container becomes every capability this machine has,
with seccomp, AppArmor and the masked /proc paths unconfined, as
--privileged would.
"""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kube_tools  # noqa: E402


def fail(message):
    print(f"daemonset_to_docker: {message}", file=sys.stderr)
    sys.exit(1)


def memory(value):
    units = {"Ki": "k", "Mi": "m", "Gi": "g"}
    for suffix, docker in units.items():
        if value.endswith(suffix):
            return value[:-2] + docker
    return value


def cpus(value):
    return str(int(value[:-1]) / 1000) if value.endswith("m") else value


# Linux capability numbers, for reading this machine's bounding set.
CAPABILITIES = [
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE",
]


def missing_from_bounding_set():
    """The capabilities this kernel knows that the bounding set lacks."""
    with open("/proc/self/status", encoding="ascii") as f:
        bounding = next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd:"))
    with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as f:
        last = int(f.read())
    return [name for bit, name in enumerate(CAPABILITIES[:last + 1]) if not bounding & (1 << bit)]


def main():
    argv = sys.argv[1:]
    options = set()
    while argv and argv[0] in ("--bpf-as-sys-admin", "--privileged-as-capabilities"):
        options.add(argv.pop(0))
    bpf_as_sys_admin = "--bpf-as-sys-admin" in options
    if len(argv) != 3:
        fail("usage: daemonset_to_docker.py [--bpf-as-sys-admin] [--privileged-as-capabilities] "
             "KUSTOMIZE_DIR OUT_DIR HOST_PATH_ROOT")
    directory, out_dir, host_root = argv
    try:
        objects = kube_tools.kustomize(directory)
    except kube_tools.ToolError as error:
        fail(str(error))
    [ds] = [o for o in objects if o["kind"] == "DaemonSet"]
    config_maps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
    spec = ds["spec"]["template"]["spec"]
    [c] = spec["containers"]
    args = []
    if spec.get("hostPID"):
        args.append("--pid=host")
    if spec.get("hostNetwork"):
        args.append("--network=host")
    sc = c.get("securityContext", {})
    if sc.get("privileged") and "--privileged-as-capabilities" in options:
        args.append("--cap-add=ALL")
        args += [f"--cap-drop={x}" for x in missing_from_bounding_set()]
        args += ["--security-opt=seccomp=unconfined", "--security-opt=apparmor=unconfined",
                 "--security-opt=systempaths=unconfined"]
    elif sc.get("privileged"):
        args.append("--privileged")
    else:
        caps = sc.get("capabilities", {})
        args += [f"--cap-drop={x}" for x in caps.get("drop", [])]
        add = list(caps.get("add", []))
        if bpf_as_sys_admin and {"BPF", "PERFMON"} & set(add):
            add = [x for x in add if x not in ("BPF", "PERFMON")] + ["SYS_ADMIN"]
        args += [f"--cap-add={x}" for x in add]
    seccomp = sc.get("seccompProfile", spec.get("securityContext", {}).get("seccompProfile"))
    if seccomp:
        if seccomp.get("type") != "Unconfined":
            fail(f"seccompProfile {seccomp} not translated")
        args.append("--security-opt=seccomp=unconfined")
    if sc.get("readOnlyRootFilesystem"):
        args.append("--read-only")
    for env in c.get("env", []):
        if "value" in env:
            args.append(f"--env={env['name']}={env['value']}")
        elif env.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName":
            args.append(f"--env={env['name']}={socket.gethostname()}")
        else:
            fail(f"env {env['name']} not translated")
    limits = c.get("resources", {}).get("limits", {})
    if "memory" in limits:
        args.append(f"--memory={memory(limits['memory'])}")
    if "cpu" in limits:
        args.append(f"--cpus={cpus(limits['cpu'])}")
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for m in c.get("volumeMounts", []):
        v = volumes[m["name"]]
        if "configMap" in v:
            source = os.path.join(out_dir, "config")
            os.makedirs(source, exist_ok=True)
            for key, text in config_maps[v["configMap"]["name"]]["data"].items():
                with open(os.path.join(source, key), "w", encoding="utf-8") as f:
                    f.write(text)
        elif "hostPath" in v:
            source = v["hostPath"]["path"]
            if v["hostPath"].get("type") == "DirectoryOrCreate":
                source = os.path.join(host_root, source.lstrip("/"))
                os.makedirs(source, exist_ok=True)
        else:
            fail(f"volume {m['name']} not translated")
        ro = ",readonly" if m.get("readOnly") else ""
        propagation = {None: "", "None": "", "HostToContainer": ",bind-propagation=rslave",
                       "Bidirectional": ",bind-propagation=rshared"}.get(m.get("mountPropagation"))
        if propagation is None:
            fail(f"mountPropagation {m.get('mountPropagation')} not translated")
        args.append(f"--mount=type=bind,source={source},target={m['mountPath']}{ro}{propagation}")
    args.append("@IMAGE@")
    args += c.get("args", [])
    print("\n".join(args))


if __name__ == "__main__":
    main()
