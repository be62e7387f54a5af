#!/usr/bin/env python3
"""Checks the deployment files in deploy/ without a cluster.

  deploy_test.py SOURCE_DIR SHIMWATCH_BINARY

- renders deploy/kubernetes (base and overlays) with `kubectl kustomize`, and
  checks every object it and the chart render against the Kubernetes API's
  schemas (validate_objects.mjs: types, enums, required fields);
- the DaemonSet: host PID, host network, mounts, tolerations, priority class,
  resources, NODE_NAME from the downward API, probes on the metrics port;
- RBAC: exactly get/list/watch on pods; the restricted overlay: exactly the
  measured capabilities, nothing privileged;
- every variant's config and flags are accepted by
  `shimwatch run --config FILE ... --print-config`;
- `helm lint --strict` passes and `helm template` renders the same objects as
  kustomize (defaults, restricted, monitoring); non-default values reach the
  objects, and every top-level key of values.yaml is used by a template;
- `promtool check rules` on the alert rules and `promtool test rules` on their
  tests (shimwatch-rules.test.yaml); the dashboard's workload count and table
  on series of a known history; the dashboard parses and both
  use only metrics the agent exports (README.md, "Metrics").
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kube_tools  # noqa: E402

# Measured by removing one at a time (README.md, "Deploy to a cluster", says
# what each is for and how it was measured).
MEASURED_CAPABILITIES = ["BPF", "PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH", "SETUID", "SETGID", "CHOWN"]
METRICS_PORT = 9464
VARIANTS = ["", "overlays/syslog", "overlays/restricted", "overlays/monitoring"]

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


def check_schema(objects, where):
    for problem in kube_tools.schema_problems(objects):
        check(False, f"{where} against the API schema: {problem}")


def by_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def one(objects, kind):
    found = by_kind(objects, kind)
    if len(found) != 1:
        raise AssertionError(f"expected one {kind}, found {len(found)}")
    return found[0]


def normalized(objects):
    """Objects by identity; a ConfigMap's config.json compared as JSON; a
    container's volume mounts by path (a kustomize patch of one mount moves
    it first; none of the mounts lies below another, so order is moot)."""
    out = {}
    for o in objects:
        o = json.loads(json.dumps(o))
        if o["kind"] == "ConfigMap" and "config.json" in o.get("data", {}):
            o["data"]["config.json"] = json.loads(o["data"]["config.json"])
        for c in o.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            if "volumeMounts" in c:
                c["volumeMounts"] = sorted(c["volumeMounts"], key=lambda m: m["mountPath"])
        out[(o["kind"], o["metadata"]["name"])] = o
    return out


def check_daemonset(objects, variant):
    where = f"[{variant or 'base'}]"
    ds = one(objects, "DaemonSet")
    spec = ds["spec"]["template"]["spec"]
    check(spec.get("hostPID") is True, f"{where} hostPID is not true")
    check(spec.get("hostNetwork") is True, f"{where} hostNetwork is not true")
    check(spec.get("dnsPolicy") == "ClusterFirstWithHostNet", f"{where} dnsPolicy")
    check({"operator": "Exists"} in spec.get("tolerations", []), f"{where} no toleration for every taint")
    pc = spec.get("priorityClassName")
    shipped = [p["metadata"]["name"] for p in by_kind(objects, "PriorityClass")]
    check(pc in shipped or pc in ("system-node-critical", "system-cluster-critical"),
          f"{where} priorityClassName {pc!r} is neither shipped nor built in")
    check(spec.get("serviceAccountName") == one(objects, "ServiceAccount")["metadata"]["name"],
          f"{where} service account")
    [c] = spec["containers"]
    res = c.get("resources", {})
    check(set(res.get("requests", {})) >= {"cpu", "memory"} and set(res.get("limits", {})) >= {"cpu", "memory"},
          f"{where} resource requests and limits")
    env = {e["name"]: e for e in c.get("env", [])}
    check(env.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName",
          f"{where} NODE_NAME not from spec.nodeName")

    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}

    def host_path_of(mount_path):
        m = mounts.get(mount_path)
        return m and volumes.get(m["name"], {}).get("hostPath", {}).get("path")

    for path in ("/sys/kernel/btf", "/sys/kernel/tracing"):
        check(host_path_of(path) == path, f"{where} {path} is not mounted from the host")
        check(mounts.get(path, {}).get("readOnly") is True, f"{where} {path} not read-only")
    # A DaemonSet keeps its probes across pod restarts: it pins them (the
    # agent's default pins nothing), and only on the node's own bpffs do
    # pins outlive the pod. Privileged, the mount propagates both ways (a
    # bpffs the agent mounts reaches the node); otherwise (Bidirectional
    # needs privileged) the node's mounts reach the pod.
    pin_path = json.loads(one(objects, "ConfigMap")["data"]["config.json"]).get("kernel", {}).get("pin_path", "")
    check(bool(pin_path), f"{where} kernel.pin_path is not set: the probes would detach with every pod")
    if pin_path:
        check(host_path_of("/sys/fs/bpf") == "/sys/fs/bpf", f"{where} /sys/fs/bpf is not mounted from the host")
        check(not mounts.get("/sys/fs/bpf", {}).get("readOnly"), f"{where} /sys/fs/bpf is read-only")
        check(pin_path.startswith("/sys/fs/bpf/"), f"{where} kernel.pin_path {pin_path} is not on the mounted bpffs")
        privileged = c.get("securityContext", {}).get("privileged") is True
        propagation = mounts.get("/sys/fs/bpf", {}).get("mountPropagation")
        want = "Bidirectional" if privileged else "HostToContainer"
        check(propagation == want, f"{where} /sys/fs/bpf mountPropagation is {propagation}, not {want}")

    # The config file and the audit log directory.
    args = c.get("args", [])
    check(args[:2] == ["--config", "/etc/shimwatch/config.json"], f"{where} args do not start with --config")
    cm_mount = mounts.get("/etc/shimwatch")
    check(cm_mount and volumes[cm_mount["name"]].get("configMap", {}).get("name")
          == one(objects, "ConfigMap")["metadata"]["name"], f"{where} config map not mounted at /etc/shimwatch")
    config = json.loads(one(objects, "ConfigMap")["data"]["config.json"])
    log_file = config["output"]["log_file"]
    log_dir = os.path.dirname(log_file)
    check(host_path_of(log_dir) is not None, f"{where} audit log directory {log_dir} is not a hostPath")
    check(not mounts.get(log_dir, {}).get("readOnly"), f"{where} audit log directory is read-only")

    # Probes on the metrics port, which must be reachable from the kubelet.
    ports = {p["name"]: p for p in c.get("ports", [])}
    check(ports.get("metrics", {}).get("containerPort") == METRICS_PORT, f"{where} metrics port")
    address = config["metrics"]["address"]
    host, _, port = address.rpartition(":")
    check(port == str(METRICS_PORT), f"{where} metrics.address {address} is not port {METRICS_PORT}")
    check(host not in ("127.0.0.1", "localhost", "[::1]"), f"{where} metrics.address {address} is loopback only")
    # Liveness on /healthz, which fails when events stop coming in;
    # readiness on /metrics.
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/metrics")):
        get = c.get(probe, {}).get("httpGet", {})
        check(get.get("path") == path and get.get("port") in ("metrics", METRICS_PORT),
              f"{where} {probe} is not on {path} of the metrics port")

    sc = c.get("securityContext", {})
    if variant == "overlays/restricted":
        check(sc.get("privileged") is False, f"{where} still privileged")
        caps = sc.get("capabilities", {})
        check(caps.get("drop") == ["ALL"], f"{where} capabilities not dropped")
        check(sorted(caps.get("add", [])) == sorted(MEASURED_CAPABILITIES),
              f"{where} capabilities {caps.get('add')} != measured {MEASURED_CAPABILITIES}")
    else:
        check(sc.get("privileged") is True, f"{where} not privileged")
    return config, args


def check_rbac(objects, variant):
    where = f"[{variant or 'base'}]"
    role = one(objects, "ClusterRole")
    check(role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
          f"{where} ClusterRole rules are not exactly get/list/watch on pods: {role['rules']}")
    check(by_kind(objects, "Role") == [], f"{where} unexpected Role")
    binding = one(objects, "ClusterRoleBinding")
    sa = one(objects, "ServiceAccount")
    check(binding["roleRef"]["name"] == role["metadata"]["name"], f"{where} binding's role")
    check(binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                   "namespace": sa["metadata"]["namespace"]}], f"{where} binding's subject")


def check_config_accepted(shimwatch, config, args, variant, tmp):
    path = os.path.join(tmp, "config.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(config, f)
    argv = [shimwatch, "run", "--config", path] + args[2:] + ["--print-config"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if not check(r.returncode == 0, f"[{variant or 'base'}] {' '.join(argv[1:])}: exit {r.returncode}: {r.stderr.strip()}"):
        return
    effective = json.loads(r.stdout)
    check(effective["metrics"]["address"] == config["metrics"]["address"], "effective metrics.address")
    check(effective["output"]["log_file"] == config["output"]["log_file"], "effective output.log_file")
    if variant == "overlays/syslog":
        check(effective["output"]["syslog"]["url"].startswith("tls://"), "syslog overlay: no TLS syslog URL")


def check_helm(source, rendered):
    chart = os.path.join(source, "deploy/helm/shimwatch")
    with open(os.path.join(chart, "Chart.yaml"), encoding="utf-8") as f:
        meta = yaml.safe_load(f)
    check(meta.get("apiVersion") == "v2" and meta.get("name") == "shimwatch", "Chart.yaml")
    cases = [("", {}), ("overlays/restricted", {"privileged": False}),
             ("overlays/monitoring", {"serviceMonitor": {"enabled": True}})]
    for variant, values in cases:
        helm_objects = kube_tools.helm_template(chart, "shimwatch", "shimwatch", values)
        check_schema(helm_objects, f"helm {values}")
        helm = normalized(helm_objects)
        kust = normalized(o for o in rendered[variant] if o["kind"] != "Namespace")
        check(set(helm) == set(kust), f"helm {values}: objects {sorted(helm)} != kustomize {sorted(kust)}")
        for key in kust:
            check(helm.get(key) == kust[key], f"helm {values}: {key} differs from kustomize {variant or 'base'}")
    values = yaml.safe_load(open(os.path.join(chart, "values.yaml"), encoding="utf-8"))
    check(values["capabilities"] == MEASURED_CAPABILITIES, "values.yaml capabilities differ from the measured set")
    # Non-default values reach the objects.
    custom = {
        "image": {"repository": "registry.example/shimwatch", "tag": "9.9"},
        "extraArgs": ["--watch-runtime", "containerd"], "nodeSelector": {"kubernetes.io/os": "linux"},
        "priorityClass": {"create": False, "name": "system-node-critical"},
        "metricsPort": 9555,
        "extraVolumes": [{"name": "siem-ca", "secret": {"secretName": "siem-ca"}}],
        "extraVolumeMounts": [{"name": "siem-ca", "mountPath": "/etc/ssl/siem", "readOnly": True}],
        "config": {"metrics": {"address": "0.0.0.0:9555"},
                   "output": {"syslog": {"url": "tls://siem.example.internal:6514",
                                         "ca_file": "/etc/ssl/siem/ca.crt"}}}}
    for lint_values in ({}, custom):
        try:
            kube_tools.helm_lint(chart, lint_values)
        except kube_tools.ToolError as error:
            check(False, f"helm lint {lint_values}: {error}")
    custom_objects = kube_tools.helm_template(chart, "shimwatch", "observability", custom)
    check_schema(custom_objects, "helm with custom values")
    objs = normalized(custom_objects)
    pod = objs[("DaemonSet", "shimwatch")]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    check(c["image"] == "registry.example/shimwatch:9.9", "helm image value")
    check(c["args"][2:] == ["--watch-runtime", "containerd"], "helm extraArgs")
    check(pod.get("nodeSelector") == {"kubernetes.io/os": "linux"}, "helm nodeSelector")
    check(pod["volumes"][-1] == custom["extraVolumes"][0] and custom["extraVolumeMounts"][0] in c["volumeMounts"],
          "helm extraVolumes/extraVolumeMounts")
    # metricsPort alone would leave the agent on 9464 and the probes failing.
    try:
        kube_tools.helm_template(chart, "shimwatch", "shimwatch", {"metricsPort": 9555})
        check(False, "helm: metricsPort without config.metrics.address rendered")
    except kube_tools.ToolError as error:
        check("metricsPort" in str(error), f"helm: metricsPort mismatch message: {error}")
    check(pod.get("priorityClassName") == "system-node-critical", "helm priorityClass.name")
    check(("PriorityClass", "shimwatch-node-agent") not in objs, "helm priorityClass.create=false")
    ports = {p["name"]: p for p in c["ports"]}
    check(ports.get("metrics", {}).get("containerPort") == 9555 and ports["metrics"].get("hostPort") == 9555
          and c["livenessProbe"]["httpGet"]["port"] == "metrics" and c["readinessProbe"]["httpGet"]["port"] == "metrics",
          f"helm metricsPort: {c['ports']}")
    config = objs[("ConfigMap", "shimwatch-config")]["data"]["config.json"]
    check(config["output"]["syslog"]["url"] == "tls://siem.example.internal:6514"
          and config["metrics"]["address"] == "0.0.0.0:9555"
          and config["output"]["log_file"] == "/var/log/shimwatch/events.log",
          f"helm config values not merged over the defaults: {config}")
    # Every top-level value is read by some template, so none is a dead knob.
    templates = "".join(open(os.path.join(chart, "templates", t), encoding="utf-8").read()
                        for t in os.listdir(os.path.join(chart, "templates")))
    unused = [key for key in values if f".Values.{key}" not in templates]
    check(not unused, f"values.yaml keys no template reads: {unused}")
    check(objs[("ClusterRoleBinding", "shimwatch")]["subjects"][0]["namespace"] == "observability",
          "helm release namespace in the binding")


# One sample use of each flag of `shimwatch run`; the test fails on a flag
# that is neither here nor in FLAGS_NOT_CONFIG, so a new flag needs a config
# key (and with it a chart value) or a reason.
FLAG_SAMPLES = {
    "--watch-exec": ["--watch-exec", "nerdctl"],
    "--watch-exec-path": ["--watch-exec-path", "/opt/ci/bin/dkr"],
    "--watch-config-path": ["--watch-config-path", "/etc/ci/docker.json"],
    "--watch-tcp-port": ["--watch-tcp-port", "12375"],
    "--watch-tcp-destinations": ["--watch-tcp-destinations", "any"],
    "--watch-socket": ["--watch-socket", "/host/run/docker.sock"],
    "--watch-runtime": ["--watch-runtime", "containerd"],
    "--watch-runtime-socket": ["--watch-runtime-socket", "containerd=/run/k3s/containerd/containerd.sock"],
    "--format": ["--format", "text"],
    "--log-file": ["--log-file", "/var/log/shimwatch/audit.json"],
    "--log-max-mib": ["--log-max-mib", "7"],
    "--log-keep": ["--log-keep", "9"],
    "--no-stdout": ["--no-stdout"],
    "--syslog": ["--syslog", "tcp://siem.example.internal:601"],
    "--syslog-ca-file": ["--syslog-ca-file", "/etc/ssl/siem-ca.pem"],
    "--syslog-cert-file": ["--syslog-cert-file", "/etc/ssl/agent.pem"],
    "--syslog-key-file": ["--syslog-key-file", "/etc/ssl/agent.key"],
    "--syslog-insecure-skip-verify": ["--syslog-insecure-skip-verify"],
    "--syslog-facility": ["--syslog-facility", "local5"],
    "--syslog-queue-size": ["--syslog-queue-size", "777"],
    "--no-dedupe": ["--no-dedupe"],
    "--dedupe-window-seconds": ["--dedupe-window-seconds", "300"],
    "--output-queue-size": ["--output-queue-size", "4096"],
    "--metrics-address": ["--metrics-address", "0.0.0.0:9555"],
    "--ring-buffer-kib": ["--ring-buffer-kib", "16384"],
    "--pin-path": ["--pin-path", "/sys/fs/bpf/shimwatch-canary"],
    "--no-pin": ["--no-pin"],
    "--hooks": ["--hooks", "tracepoints"],
    "--run-as": ["--run-as", "1234:1234"],
    "--node-name": ["--node-name", "node-7"],
    "--kubernetes": ["--kubernetes", "off"],
    "--kube-api-server": ["--kube-api-server", "https://10.96.0.1:443"],
    "--kube-token-file": ["--kube-token-file", "/var/run/token"],
    "--kube-ca-file": ["--kube-ca-file", "/var/run/ca.crt"],
    "--kube-label": ["--kube-label", "team"],
    "--kubernetes-source": ["--kubernetes-source", "kubelet"],
    "--kubelet-url": ["--kubelet-url", "https://10.0.0.7:10250"],
    "--kubelet-insecure-skip-tls-verify": ["--kubelet-insecure-skip-tls-verify"],
    "--kubelet-poll-seconds": ["--kubelet-poll-seconds", "30"],
}
FLAGS_NOT_CONFIG = {"--config", "--print-config", "--verbose", "--help"}  # extraArgs: ["-v"]


def config_diff(changed, base):
    """The part of CHANGED that differs from BASE (lists compared whole)."""
    out = {}
    for key, value in changed.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            sub = config_diff(value, base[key])
            if sub:
                out[key] = sub
        elif base.get(key) != value:
            out[key] = value
    return out


def check_every_flag_is_a_value(source, shimwatch, tmp):
    """Each flag of `shimwatch run` has a chart value with the same effect."""
    help_text = subprocess.run([shimwatch, "run", "--help"], capture_output=True, text=True, timeout=30)
    flags = set(re.findall(r"^\s+(?:-\w, )?(--[a-z0-9-]+)", help_text.stdout + help_text.stderr, re.M))
    check(len(flags) > 30, f"flags not read from `shimwatch run --help`: {sorted(flags)}")
    unknown = flags - set(FLAG_SAMPLES) - FLAGS_NOT_CONFIG
    check(not unknown, f"flags neither sampled nor exempt in deploy_test.py: {sorted(unknown)}")
    chart = os.path.join(source, "deploy/helm/shimwatch")
    defaults = yaml.safe_load(open(os.path.join(chart, "values.yaml"), encoding="utf-8"))["config"]

    def effective(config, args):
        path = os.path.join(tmp, "flag-config.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(config, f)
        r = subprocess.run([shimwatch, "run", "--config", path] + args + ["--print-config"],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise kube_tools.ToolError(f"shimwatch run {' '.join(args)} --print-config: {r.stderr.strip()}")
        return json.loads(r.stdout)

    base = effective(defaults, [])
    for flag in sorted(flags & set(FLAG_SAMPLES)):
        with_flag = effective(defaults, FLAG_SAMPLES[flag])
        diff = config_diff(with_flag, base)
        if not check(diff, f"{flag}: changes no config key"):
            continue
        values = {"config": diff}
        if "address" in diff.get("metrics", {}):
            values["metricsPort"] = int(diff["metrics"]["address"].rsplit(":", 1)[1])
        objs = normalized(kube_tools.helm_template(chart, "shimwatch", "shimwatch", values))
        from_chart = objs[("ConfigMap", "shimwatch-config")]["data"]["config.json"]
        check(effective(from_chart, []) == with_flag,
              f"{flag}: the chart value config: {json.dumps(diff)} does not have the flag's effect")


def check_own_kustomization(source, tmp):
    """The README's kustomization of one's own: the restricted overlay, another image."""
    checkout = os.path.join(tmp, "shimwatch")
    os.symlink(source, checkout)
    own = os.path.join(tmp, "my-shimwatch")
    os.makedirs(own)
    with open(os.path.join(source, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    match = re.search(r"```yaml\n# my-shimwatch/kustomization.yaml[^\n]*\n(.*?)```", readme, re.S)
    if not check(match is not None, "README has no my-shimwatch/kustomization.yaml example"):
        return
    with open(os.path.join(own, "kustomization.yaml"), "w", encoding="utf-8") as f:
        f.write(match.group(1))
    objects = kube_tools.kustomize(own)
    c = one(objects, "DaemonSet")["spec"]["template"]["spec"]["containers"][0]
    check(c["image"] == "registry.example.com/shimwatch:0.1.0", f"own kustomization: image {c['image']}")
    check(c["securityContext"]["capabilities"]["add"] == MEASURED_CAPABILITIES,
          "own kustomization: not the restricted overlay")


def exported_metrics(source):
    """Metric names from README.md's Metrics table."""
    with open(os.path.join(source, "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = text.split("### Metrics", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cell = line.split("|")[1]
        first = None
        for token in re.findall(r"`([a-z_]+)`", cell):
            if token.startswith("_") and first:
                names.add(re.sub(r"_[a-z]+_total$|_[a-z]+$", "", first) + token)
            else:
                names.add(token)
                first = first or token
    return names


def used_metrics(text):
    return set(re.findall(r"\b((?:shimwatch|process)_[a-z_]+)\b", text))


def check_dashboard_queries(dashboard, promtool, tmp):
    """The dashboard's workload count and table on series of a known history
    (promtool test rules, promql_expr_test): a workload that has called all
    along, one whose single call falls in the range, one that called only
    before it, and an idle one with a gap in scraping at the range's start."""
    if promtool is None:
        return
    exprs = {p["title"]: p["targets"][0]["expr"] for p in dashboard["panels"] if p.get("targets")}

    def at(title):
        return exprs[title].replace("$instance", ".*").replace("$__range", "1h")

    def series(workload, values):
        return {"series": f'shimwatch_events_total{{instance="n1:9464", action="docker-cli-exec", outcome="ok", '
                          f'origin_type="pod", namespace="ci", workload_kind="Deployment", workload="{workload}", '
                          f'unit="", agent=""}}', "values": values}

    def sample(workload, value):
        return {"labels": f'{{origin_type="pod", namespace="ci", workload_kind="Deployment", workload="{workload}", '
                          f'action="docker-cli-exec"}}', "value": value}

    test = {"rule_files": [], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        # "idle" has not called for hours and was not scraped from 80 to
        # 95 minutes, across the start of the range: not a new workload.
        "input_series": [series("builder", "3+2x240"), series("nightly", "_x120 1x120"),
                         series("retired", "5x240"), series("idle", "7x79 _x15 7x100")],
        "promql_expr_test": [
            {"expr": at("Workloads using Docker"), "eval_time": "150m", "exp_samples": [{"labels": "{}", "value": 2}]},
            {"expr": at("Workloads and units (time range)"), "eval_time": "150m",
             "exp_samples": [sample("builder", 120), sample("nightly", 1)]},
        ]}]}
    path = os.path.join(tmp, "dashboard.test.yaml")
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(test, f)
    r = subprocess.run([promtool, "test", "rules", path], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, f"dashboard queries on a known history: {r.stdout}{r.stderr}")


def check_monitoring(source, tmp):
    exported = exported_metrics(source)
    check("shimwatch_events_total" in exported and "shimwatch_kubernetes_relists_total" in exported,
          f"README metrics table not understood: {sorted(exported)}")
    rules = os.path.join(source, "deploy/prometheus/shimwatch-rules.yaml")
    promtool = shutil.which("promtool")
    if check(promtool is not None, "promtool not found (apt-get install prometheus)"):
        r = subprocess.run([promtool, "check", "rules", rules], capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, f"promtool check rules: {r.stdout}{r.stderr}")
        # The alerts fire (and stay quiet) when they should: shimwatch-rules.test.yaml.
        r = subprocess.run([promtool, "test", "rules", "shimwatch-rules.test.yaml"], capture_output=True,
                           text=True, timeout=120, cwd=os.path.dirname(rules))
        check(r.returncode == 0, f"promtool test rules: {r.stdout}{r.stderr}")
    with open(rules, encoding="utf-8") as f:
        rules_text = f.read()
    with open(os.path.join(source, "deploy/grafana/shimwatch-dashboard.json"), encoding="utf-8") as f:
        dashboard = json.load(f)
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    check(len(exprs) >= 5, "dashboard has too few queries")
    for name, text in (("rules", rules_text), ("dashboard", "\n".join(exprs))):
        unknown = used_metrics(text) - exported
        check(not unknown, f"{name} uses metrics the agent does not export: {sorted(unknown)}")
    for needed in ("shimwatch_events_total", "shimwatch_events_dropped_total", "shimwatch_enrichment_misses_total"):
        check(any(needed in e for e in exprs), f"dashboard does not show {needed}")
    check_dashboard_queries(dashboard, promtool, tmp)
    ids = [p["id"] for p in dashboard["panels"]]
    check(len(ids) == len(set(ids)), "dashboard panel ids are not unique")


def main():
    try:
        return checks()
    except kube_tools.ToolError as error:
        print("FAIL:", error)
        return 1


def checks():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    source, shimwatch = os.path.abspath(sys.argv[1]), sys.argv[2]
    rendered = {}
    with tempfile.TemporaryDirectory() as tmp:
        for variant in VARIANTS:
            objects = kube_tools.kustomize(os.path.join(source, "deploy/kubernetes", variant))
            rendered[variant] = objects
            check_schema(objects, f"[{variant or 'base'}]")
            check(one(objects, "Namespace")["metadata"]["name"] == "shimwatch", "namespace")
            for o in objects:
                if o["kind"] not in kube_tools.CLUSTER_SCOPED:
                    check(o["metadata"].get("namespace") == "shimwatch", f"{o['kind']} not in namespace shimwatch")
            config, args = check_daemonset(objects, variant)
            check_rbac(objects, variant)
            check_config_accepted(shimwatch, config, args, variant, tmp)
        monitors = by_kind(rendered["overlays/monitoring"], "ServiceMonitor")
        if check(len(monitors) == 1, "monitoring: no ServiceMonitor"):
            check(all(e.get("honorLabels") is True for e in monitors[0]["spec"]["endpoints"]),
                  "ServiceMonitor: honorLabels must be true, or the workload namespace label is replaced")
        check(by_kind(rendered[""], "ServiceMonitor") == [], "base must not need the ServiceMonitor CRD")
        check_helm(source, rendered)
        check_own_kustomization(source, tmp)
        check_every_flag_is_a_value(source, shimwatch, tmp)
        check_monitoring(source, tmp)
    for f in failures:
        print("FAIL:", f)
    print(f"deploy checks: {len(failures)} failed" if failures else "deploy checks: all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
