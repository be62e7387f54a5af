"""A small renderer for the templates of deploy/helm/shimwatch.

Helm is not needed to check the chart: its templates use only these forms,
and anything else is an error.
  {{ .Values.a.b }}   {{ .Release.Namespace }}   "...{{ .Values.x }}..."
  {{- toYaml .Values.x | nindent N }}   {{ toPrettyJson .Values.x | indent N }}
  {{- if .Values.x }} ... {{- else }} ... {{- end }}
`{{-` and `-}}` trim whitespace as in Go templates.
"""
import copy
import json
import os
import re

import yaml

TAG = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)


def _lookup(ctx, path):
    value = ctx
    for part in path.lstrip(".").split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(f"no value .{path.lstrip('.')}")
        value = value[part]
    return value


def _scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _eval(expr, ctx):
    parts = [p.strip() for p in expr.split("|")]
    head = parts[0].split()
    if len(head) == 1 and head[0].startswith("."):
        value = _lookup(ctx, head[0])
        text = None
    elif len(head) == 2 and head[0] in ("toYaml", "toPrettyJson") and head[1].startswith("."):
        value = _lookup(ctx, head[1])
        if head[0] == "toYaml":
            text = yaml.safe_dump(value, default_flow_style=False, sort_keys=False).rstrip("\n")
        else:
            text = json.dumps(value, indent=2)
    else:
        raise ValueError(f"template form not supported: {{{{ {expr} }}}}")
    if text is None:
        text = _scalar(value)
    for f in parts[1:]:
        name, _, arg = f.partition(" ")
        if name == "indent":
            text = "\n".join(" " * int(arg) + line for line in text.split("\n"))
        elif name == "nindent":
            text = "\n" + "\n".join(" " * int(arg) + line for line in text.split("\n"))
        elif name == "quote":
            text = json.dumps(text)
        else:
            raise ValueError(f"template function not supported: {name}")
    return text


def _truthy(value):
    return value not in (None, False, 0, "", [], {})


def render_text(template, ctx):
    # Tokens: text, or (trim_left, body, trim_right).
    tokens, pos = [], 0
    for m in TAG.finditer(template):
        tokens.append(template[pos:m.start()])
        tokens.append((m.group(1) == "-", m.group(2), m.group(3) == "-"))
        pos = m.end()
    tokens.append(template[pos:])
    # Trimming is applied to the neighbouring text first.
    for i, tok in enumerate(tokens):
        if isinstance(tok, tuple):
            if tok[0]:
                tokens[i - 1] = tokens[i - 1].rstrip()
            if tok[2]:
                tokens[i + 1] = tokens[i + 1].lstrip()
    out = []
    stack = []  # per open `if`: [emitting_before, condition, in_else]

    def emitting():
        return all(s[1] != s[2] for s in stack)

    for tok in tokens:
        if isinstance(tok, str):
            if emitting():
                out.append(tok)
            continue
        body = tok[1]
        if body.startswith("if "):
            cond = body[3:].strip()
            if not cond.startswith("."):
                raise ValueError(f"if form not supported: {body}")
            stack.append([None, _truthy(_lookup(ctx, cond)), False])
        elif body == "else":
            stack[-1][2] = True
        elif body == "end":
            stack.pop()
        elif emitting():
            out.append(_eval(body, ctx))
    if stack:
        raise ValueError("unclosed if")
    return "".join(out)


def _deep_merge(base, override):
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def render(chart_dir, namespace, values_override=None):
    """The objects `helm template -n NAMESPACE` would print, as dicts."""
    with open(os.path.join(chart_dir, "values.yaml"), encoding="utf-8") as f:
        values = _deep_merge(yaml.safe_load(f), values_override)
    ctx = {"Values": values, "Release": {"Namespace": namespace, "Name": "shimwatch"}}
    objects = []
    templates = os.path.join(chart_dir, "templates")
    for name in sorted(os.listdir(templates)):
        if not name.endswith(".yaml"):
            continue
        with open(os.path.join(templates, name), encoding="utf-8") as f:
            text = render_text(f.read(), ctx)
        objects.extend(d for d in yaml.safe_load_all(text) if d is not None)
    return objects
