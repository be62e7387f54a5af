#!/usr/bin/env python3
"""`docker run` arguments that reproduce the rendered DaemonSet's container.

  daemonset_to_docker.py [--bpf-as-sys-admin] KUSTOMIZE_DIR OUT_DIR HOST_PATH_ROOT

Writes the ConfigMap's files to OUT_DIR/config/ and prints one argument per
line: host PID and network namespaces, privileged or the capabilities, read-only
root, NODE_NAME, memory and CPU limits, every volume (configMap from
OUT_DIR/config; DirectoryOrCreate hostPaths under HOST_PATH_ROOT so a test does
not write to the node's /var/log; other hostPaths as they are), then the image
placeholder @IMAGE@ and the container's args. Fails on anything it does not
know how to translate, so the test never runs something else than the manifest.
--bpf-as-sys-admin: for engines that do not know CAP_BPF and CAP_PERFMON
(Docker before 23), CAP_SYS_ADMIN in their place (it includes both).
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


def main():
    argv = sys.argv[1:]
    bpf_as_sys_admin = argv[:1] == ["--bpf-as-sys-admin"]
    argv = argv[1:] if bpf_as_sys_admin else argv
    if len(argv) != 3:
        fail("usage: daemonset_to_docker.py [--bpf-as-sys-admin] KUSTOMIZE_DIR OUT_DIR HOST_PATH_ROOT")
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
    if sc.get("privileged"):
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
        args.append(f"--mount=type=bind,source={source},target={m['mountPath']}{ro}")
    args.append("@IMAGE@")
    args += c.get("args", [])
    print("\n".join(args))


if __name__ == "__main__":
    main()
