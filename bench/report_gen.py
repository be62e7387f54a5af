#!/usr/bin/env python3
"""Realistic shimwatch audit logs for the report benchmark.

Writes one plain log per node (NODE.log) until --mib MiB are written in all:
agents polling docker.sock (with de-duplication summary records), CronJobs and
systemd units running the docker CLI, SSH sessions, config reads, service
control, a few runtime-socket connects, rare gap records, torn lines and the
agent's own log lines.
"""
import argparse
import json
import os
import random

BASE = 1_795_000_000  # 2026-11-17, seconds


def ts(seconds):
    micros = int(seconds * 1e6)
    s, us = divmod(micros, 1_000_000)
    import time
    t = time.gmtime(s)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".%06dZ" % us


def process(name, exe, args, pid):
    return {"pid": pid, "thread": {"id": pid}, "name": name[:15], "executable": exe, "args": args,
            "args_count": len(args), "command_line": " ".join(args),
            "parent": {"pid": pid - 7, "name": "bash"},
            "ancestry": [{"pid": pid - 7, "name": "bash", "executable": "/usr/bin/bash"},
                         {"pid": 1, "name": "systemd", "executable": "/usr/lib/systemd/systemd"}]}


def pod_fields(ns, kind, name, image, agent, node_index):
    pod = f"{name}-{node_index:03d}x{random.randrange(1000):03d}"
    uid = "%08x-3c2d-4e8f-9a0b-%012x" % (hash(name) & 0xffffffff, node_index)
    cid = "%064x" % random.getrandbits(256)
    origin = {"type": "pod", "kubernetes_metadata": "known", "qos_class": "burstable",
              "workload": {"kind": kind, "name": name}, "slice": "kubepods-burstable.slice"}
    if agent:
        origin["agent"] = agent
    top = {"container": {"id": cid, "runtime": "containerd", "name": name.split("-")[0],
                         "image": {"name": image}},
           "orchestrator": {"type": "kubernetes", "namespace": ns,
                            "resource": {"type": "pod", "name": pod}},
           "kubernetes": {"pod": {"uid": uid, "name": pod, "labels": {"app": name}},
                          "namespace": ns, "container": {"name": name.split("-")[0]}}}
    cgroup = f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid.replace('-', '_')}.slice/cri-containerd-{cid}.scope"
    return origin, top, cgroup


def make_sources(node_index):
    s = []
    for ns, kind, name, image, agent, exe, args in [
        ("monitoring", "DaemonSet", "dd-agent", "gcr.io/datadoghq/agent:7", "datadog",
         "/opt/datadog-agent/bin/agent/agent", ["agent", "run"]),
        ("kube-system", "DaemonSet", "cadvisor", "gcr.io/cadvisor/cadvisor:v0.47.0", "cadvisor",
         "/usr/bin/cadvisor", ["/usr/bin/cadvisor", "--docker_only=true", "--housekeeping_interval=10s"]),
        ("logging", "DaemonSet", "fluent-bit", "cr.fluentbit.io/fluent/fluent-bit:2.1", "fluent-bit",
         "/fluent-bit/bin/fluent-bit", ["/fluent-bit/bin/fluent-bit", "-c", "/fluent-bit/etc/fluent-bit.conf"]),
        ("ci", "Deployment", "legacy-builder", "registry.corp/ci/builder:3", "",
         "/usr/bin/docker", ["docker", "build", "-t", "registry.corp/app:latest", "."]),
    ]:
        origin, top, cgroup = pod_fields(ns, kind, name, image, agent, node_index)
        action = "docker-cli-exec" if exe.endswith("docker") else "docker-socket-connect"
        s.append(dict(origin=origin, top=top, cgroup=cgroup, exe=exe, args=args, action=action,
                      weight=5 if action == "docker-socket-connect" else 1, poll=action != "docker-cli-exec"))
    for i in range(3):
        origin, top, cgroup = pod_fields("ops", "CronJob", f"cleanup-{i}", "registry.corp/ops/cleanup:1", "", node_index)
        for cmd in (["docker", "ps", "-a", "--filter", "status=exited"],
                    ["docker", "inspect", f"job-{random.randrange(100000)}"],
                    ["docker", "logs", "--tail", "100", f"web-{random.randrange(50)}"]):
            s.append(dict(origin=origin, top=top, cgroup=cgroup, exe="/usr/bin/docker", args=cmd,
                          action="docker-cli-exec", weight=2, poll=False))
    for unit, action, args, extra in [
        ("docker-upgrade.service", "docker-service-control", ["systemctl", "restart", "docker"],
         {"service": {"verb": "restart", "unit": "docker", "manager": "systemctl"}}),
        ("node-bootstrap.service", "docker-config-read", ["cat", "/etc/docker/daemon.json"], {"config": {"watched": "/etc/docker"}}),
        ("backup.service", "docker-api-tcp-connect", ["docker", "ps"], {}),
        ("crio-probe.service", "runtime-socket-connect", ["crictl", "ps"],
         {"runtime": "cri-o", "socket": {"path": "/var/run/crio/crio.sock", "abstract": False, "matched_by": "path"}}),
    ]:
        s.append(dict(origin={"type": "systemd_unit", "unit": unit, "slice": "system.slice"}, top={},
                      cgroup=f"/system.slice/{unit}", exe="/usr/bin/" + args[0], args=args, action=action,
                      weight=1, poll=False, extra=extra))
    for uid in (1000, 1001):
        for cmd in (["docker", "ps"], ["docker", "exec", "-it", "web", "sh"], ["docker", "stats", "--no-stream"]):
            s.append(dict(origin={"type": "user_session", "session": str(random.randrange(1, 90)), "login_uid": uid,
                                  "slice": f"user-{uid}.slice"}, top={},
                          cgroup=f"/user.slice/user-{uid}.slice/session-3.scope", exe="/usr/bin/docker", args=cmd,
                          action="docker-cli-exec", weight=1, poll=False))
    s.append(dict(origin={"type": "host"}, top={}, cgroup="/", exe="/usr/local/bin/node-check",
                  args=["/usr/local/bin/node-check", "--docker"], action="docker-socket-connect", weight=1, poll=False))
    return s


def record(node, source, t, pid, repeat=None):
    action = source["action"]
    rec = {"@timestamp": ts(t),
           "event": {"kind": "event", "category": ["process"], "type": ["start"], "action": action,
                     "outcome": "success"},
           "host": {"name": node},
           "process": process(source["args"][0].split("/")[-1], source["exe"], source["args"], pid),
           "user": {"id": "0"}, "group": {"id": "0"}}
    if action == "docker-api-tcp-connect":
        rec["event"]["outcome"] = "failure"
        rec["error"] = {"code": "ECONNREFUSED", "message": "Connection refused"}
        rec["destination"] = {"ip": "127.0.0.1", "port": 2375}
    if action.startswith("docker-config"):
        rec["file"] = {"path": "/etc/docker/daemon.json"}
    rec.update(source["top"])
    sw = {"origin": source["origin"], "cgroup": {"id": 9000 + pid % 1000, "path": source["cgroup"]},
          "namespace": {"mnt": 4026531841, "pid": 4026531836}}
    if action == "docker-socket-connect":
        sw["socket"] = {"path": "/var/run/docker.sock", "abstract": False, "peer": "/run/docker.sock",
                        "matched_by": "path", "watched": "/var/run/docker.sock"}
    sw.update(source.get("extra", {}))
    if repeat:
        sw["repeat"] = {"count": repeat, "first_seen": ts(t - 59), "last_seen": ts(t), "window_seconds": 60}
    rec["shimwatch"] = sw
    return json.dumps(rec, separators=(",", ":"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=float, default=1024)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    random.seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    per_node = int(args.mib * 1024 * 1024 / args.nodes)
    for n in range(args.nodes):
        node = f"node-{n:03d}"
        sources = make_sources(n)
        weights = [s["weight"] for s in sources]
        t = BASE + n * 3600 * 7  # nodes joined the observation at different times
        pid = 20000
        written = 0
        with open(os.path.join(args.out, node + ".log"), "w") as f:
            while written < per_node:
                batch = []
                for source in random.choices(sources, weights, k=256):
                    t += random.random() * 3
                    pid += 1
                    repeat = random.randrange(1, 60) if source["poll"] and random.random() < 0.5 else None
                    batch.append(record(node, source, t, pid, repeat))
                if random.random() < 0.01:
                    batch.append(json.dumps({"@timestamp": ts(t), "event": {"kind": "event", "action": "shimwatch-gap", "outcome": "unknown", "reason": "kernel"},
                                             "message": "12 events were lost", "host": {"name": node},
                                             "shimwatch": {"gap": {"dropped": 12, "stage": "kernel", "ring_buffer_full": 12, "first": ts(t - 1), "last": ts(t)}}},
                                            separators=(",", ":")))
                if random.random() < 0.01:
                    batch.append("[2026-11-17 10:00:00.000] [info] shimwatch: kubernetes watch reconnected")
                if random.random() < 0.005:
                    batch.append(batch[0][: len(batch[0]) // 2])  # a torn line
                text = "\n".join(batch) + "\n"
                f.write(text)
                written += len(text)


if __name__ == "__main__":
    main()
