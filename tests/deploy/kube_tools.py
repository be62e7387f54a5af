"""The real kubectl and helm for the deployment tests, and the API schemas.

They are looked up in $SHIMWATCH_KUBE_TOOLS, then in the repository's .tools/bin
(scripts/fetch-kube-tools.py, run by `scripts/install-deps.sh test`), then on
PATH. A missing tool is an error that says how to get it: the tests never fall
back to rendering the manifests some other way.
"""
import json
import os
import shutil
import subprocess
import tempfile

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass",
                  "CustomResourceDefinition"}


class ToolError(Exception):
    pass


def tool(name):
    for directory in (os.environ.get("SHIMWATCH_KUBE_TOOLS"), os.path.join(REPO, ".tools", "bin")):
        if directory and os.access(os.path.join(directory, name), os.X_OK):
            return os.path.join(directory, name)
    found = shutil.which(name)
    if not found:
        raise ToolError(f"{name} not found: run scripts/fetch-kube-tools.py (or scripts/install-deps.sh test)")
    return found


def run(argv):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise ToolError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def documents(text):
    return [d for d in yaml.safe_load_all(text) if d]


def kustomize(directory):
    """`kubectl kustomize DIRECTORY` as a list of objects."""
    return documents(run([tool("kubectl"), "kustomize", directory]))


def helm(args, values=None):
    """`helm ARGS --values FILE` with VALUES written to FILE; its output."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", encoding="utf-8") as f:
        if values:
            yaml.safe_dump(values, f)
            f.flush()
            args = args + ["--values", f.name]
        return run([tool("helm")] + args)


def helm_template(chart, release, namespace, values=None):
    """`helm template RELEASE CHART --namespace NAMESPACE` as objects."""
    return documents(helm(["template", release, chart, "--namespace", namespace], values))


def helm_lint(chart, values=None):
    return helm(["lint", "--strict", chart], values)


def schema_problems(objects):
    """What the Kubernetes API's schemas (types, enums, required fields) find
    wrong with OBJECTS, one line each: tests/deploy/validate_objects.mjs on
    the schemas scripts/fetch-kube-tools.py installs in .tools/schema."""
    modules = os.path.join(os.environ.get("SHIMWATCH_KUBE_SCHEMAS") or os.path.join(REPO, ".tools", "schema"),
                           "node_modules")
    if not os.path.isdir(os.path.join(modules, "kubernetes-models")):
        raise ToolError(f"no Kubernetes schemas in {modules}: run scripts/fetch-kube-tools.py")
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        raise ToolError("node not found, needed to check the manifests against the API schemas "
                        "(apt-get install nodejs)")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "validate_objects.mjs")
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as f:
        json.dump(list(objects), f)
        f.flush()
        r = subprocess.run([node, script, modules, f.name], capture_output=True, text=True, timeout=120)
    if r.returncode not in (0, 1):
        raise ToolError(f"validate_objects.mjs: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout.splitlines()
