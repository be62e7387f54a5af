"""A small kustomize renderer for the manifests in deploy/kubernetes.

It covers what those kustomizations use, no more: `resources` (files and
directories), `components`, `namespace`, and `patches` with a strategic
merge patch file (maps merged, lists of named maps merged by name, other
lists replaced). Anything else is an error, so a kustomization that grows
past it fails the test instead of being rendered wrong.
"""
import copy
import os

import yaml

CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass",
                  "CustomResourceDefinition"}
KNOWN_KEYS = {"apiVersion", "kind", "resources", "components", "namespace", "patches"}


def _load_documents(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def _merge(base, patch):
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = _merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if (isinstance(base, list) and isinstance(patch, list) and base and patch
            and all(isinstance(x, dict) and "name" in x for x in base + patch)):
        out = [copy.deepcopy(x) for x in base]
        for item in patch:
            for i, existing in enumerate(out):
                if existing["name"] == item["name"]:
                    out[i] = _merge(existing, item)
                    break
            else:
                out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(patch)


def _identity(obj):
    return obj["kind"], obj["metadata"]["name"]


def _apply_patch(objects, patch):
    for i, obj in enumerate(objects):
        if _identity(obj) == _identity(patch):
            objects[i] = _merge(obj, patch)
            return
    raise ValueError(f"patch target not found: {_identity(patch)}")


def _kustomization(directory):
    path = os.path.join(directory, "kustomization.yaml")
    with open(path, encoding="utf-8") as f:
        k = yaml.safe_load(f)
    unknown = set(k) - KNOWN_KEYS
    if unknown:
        raise ValueError(f"{path}: not supported by this renderer: {sorted(unknown)}")
    return k


def _render_dir(directory):
    k = _kustomization(directory)
    objects = []
    for entry in k.get("resources", []):
        target = os.path.normpath(os.path.join(directory, entry))
        if os.path.isdir(target):
            objects.extend(_render_dir(target))
        else:
            objects.extend(_load_documents(target))
    for entry in k.get("components", []):
        component = os.path.normpath(os.path.join(directory, entry))
        ck = _kustomization(component)
        if ck.get("kind") != "Component":
            raise ValueError(f"{component}: not a Component")
        for res in ck.get("resources", []):
            objects.extend(_load_documents(os.path.join(component, res)))
        for p in ck.get("patches", []):
            for doc in _load_documents(os.path.join(component, p["path"])):
                _apply_patch(objects, doc)
    for p in k.get("patches", []):
        if set(p) != {"path"}:
            raise ValueError(f"{directory}: only `patches: - path: FILE` is supported")
        for doc in _load_documents(os.path.join(directory, p["path"])):
            _apply_patch(objects, doc)
    if "namespace" in k:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = k["namespace"]
    return objects


def render(directory):
    """The objects `kubectl kustomize DIRECTORY` would print, as dicts."""
    return _render_dir(os.path.abspath(directory))
