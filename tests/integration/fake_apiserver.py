#!/usr/bin/env python3
"""A stand-in Kubernetes API server (and kubelet) for shimwatch's tests
(python3 stdlib only).

Serves, over HTTPS with a bearer token, what KubeClient reads:
  GET /api/v1/pods?fieldSelector=spec.nodeName=X&limit=N&continue=T   a PodList
  GET /api/v1/pods?...&watch=1&resourceVersion=R&timeoutSeconds=S     a watch stream
  GET /pods                                 the kubelet's: every pod, one PodList
  GET /api/v1/namespaces/NS/pods            the pods of namespace NS, one PodList
  GET /apis/{apps,batch}/v1[/namespaces/NS]/PLURAL   deployments, replicasets,
      daemonsets, statefulsets (apps), jobs, cronjobs (batch): one typed list of
      the objects given with /_control/resources or --resources (no paging)
in the real wire format: PodList with metadata.resourceVersion/continue,
chunked watch streams of one {"type": ..., "object": ...} JSON event per line,
metav1.Status bodies for errors, ERROR events with code 410 for expired
resourceVersions. The kubelet's PodList has empty metadata and no paging.
The modes below apply to /pods as well (gone and gone_http only to watches).

Tests drive it through a plain-HTTP control port (JSON bodies):
  POST /_control/pods    {"op": "add"|"modify"|"delete", "pod": {...}}
                         -> {"resourceVersion": "..."}; the change reaches open watches
  POST /_control/mode    {"mode": M, "delay": seconds}; M is one of
                         normal, down (connections closed unanswered, open watches cut),
                         slow (answers wait `delay` s), garbage (200 with non-JSON,
                         open watches get a garbage line), gone (watches get an ERROR
                         410 event), gone_http (watches get HTTP 410), error500,
                         forbidden (403 in plain text, as the kubelet's authorizer says it)
  POST /_control/compact {}  watches from an older resourceVersion now get 410
  POST /_control/cut     {}  open watches are cut (no last chunk); new requests work
  POST /_control/config  {"page_size": N, "bookmark_interval": s, "token": T,
                          "fragment": bool (split each event line over several chunks)}
  POST /_control/resources {"plural": P, "items": [...]}  replaces the objects served
                         for resource P (deployments, jobs, ...); {"forbidden": [P...]}
                         makes those resources answer 403, as RBAC does
  GET  /_control/stats   request counters ("kubelet_polls" for /pods) and the last
                         list/watch query

When ready it prints one JSON line to stdout:
  {"ready": true, "port": P, "control_port": C, "ca_file": "/path/ca.crt"}
Without --cert/--key it makes a CA and a server certificate for 127.0.0.1
with the openssl CLI, in --dir (a new temporary directory by default).
"""

import argparse
import base64
import copy
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class State:
    def __init__(self, token):
        self.cond = threading.Condition()
        self.token = token
        self.rv = 1000
        self.pods = {}      # uid -> pod, in insertion order
        self.events = []    # (rv, type, pod, previous pod or None)
        self.compacted = 0  # watches from a resourceVersion below this get 410
        self.mode = "normal"
        self.delay = 0.0
        self.page_size = None
        self.bookmark_interval = 0.0
        self.fragment = False
        self.generation = 0  # bumped on every mode change and cut: wakes open watches
        self.cuts = 0
        self.snapshots = {}  # continue token -> (rv, items left)
        self.resources = {}  # plural -> objects, for the workload lists
        self.forbidden = set()  # plurals answered with 403
        self.stats = {"lists": 0, "watches": 0, "kubelet_polls": 0, "unauthorized": 0,
                      "open_watches": 0, "last_list_query": {}, "last_watch_query": {},
                      "resource_lists": 0}

    def change(self, op, pod):
        with self.cond:
            uid = pod.get("metadata", {}).get("uid")
            if not uid:
                return 400, {"error": "pod without metadata.uid"}
            previous = self.pods.get(uid)
            if op == "add" and previous is not None:
                return 409, {"error": "exists"}
            if op in ("modify", "delete") and previous is None:
                return 404, {"error": "no such pod"}
            if op not in ("add", "modify", "delete"):
                return 400, {"error": "op must be add, modify or delete"}
            self.rv += 1
            pod = copy.deepcopy(pod if op != "delete" else previous)
            pod["metadata"]["resourceVersion"] = str(self.rv)
            if op == "delete":
                del self.pods[uid]
            else:
                self.pods[uid] = pod
            kind = {"add": "ADDED", "modify": "MODIFIED", "delete": "DELETED"}[op]
            self.events.append((self.rv, kind, pod, previous))
            self.cond.notify_all()
            return 200, {"resourceVersion": str(self.rv)}


# Workload resources served from fixtures: plural -> (API group path, list kind).
RESOURCES = {
    "deployments": ("/apis/apps/v1", "DeploymentList"),
    "replicasets": ("/apis/apps/v1", "ReplicaSetList"),
    "daemonsets": ("/apis/apps/v1", "DaemonSetList"),
    "statefulsets": ("/apis/apps/v1", "StatefulSetList"),
    "jobs": ("/apis/batch/v1", "JobList"),
    "cronjobs": ("/apis/batch/v1", "CronJobList"),
}
RESOURCE_PATH = re.compile(r"^(/api/v1|/apis/apps/v1|/apis/batch/v1)"
                           r"(?:/namespaces/([^/]+))?/([a-z]+)$")


def on_node(pod, node):
    return pod is not None and (node is None or pod.get("spec", {}).get("nodeName") == node)


def seen_as(kind, pod, previous, node):
    """The event a watch with this node selector sees, or None (as the API
    server does: an object entering the selection is ADDED, leaving it DELETED)."""
    now, before = on_node(pod, node), on_node(previous, node)
    if kind == "DELETED":
        return "DELETED" if now else None
    if now and before:
        return "MODIFIED"
    if now:
        return "ADDED"
    return "DELETED" if before else None


class ApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fake-apiserver: " + (fmt % args) + "\n")

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        state = self.server.state
        with state.cond:
            mode, delay = state.mode, state.delay
        if mode == "down":
            self.close_connection = True
            return  # the connection closes without an answer
        if mode == "slow":
            time.sleep(delay)
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if self.headers.get("Authorization") != "Bearer " + state.token:
            with state.cond:
                state.stats["unauthorized"] += 1
            return self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        resource = RESOURCE_PATH.match(url.path)
        if resource and (resource.group(2) or resource.group(3) != "pods"):
            return self.resource_list(*resource.groups())
        if url.path not in ("/api/v1/pods", "/pods"):
            return self.send_json(404, status(404, "NotFound", "the server could not find "
                                              "the requested resource"))
        if mode == "garbage":
            data = b"<html><body>502 Bad Gateway (but 200)</body></html>\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if mode == "forbidden":
            data = (b"Forbidden (user=system:serviceaccount:monitoring:shimwatch, verb=get, "
                    b"resource=nodes, subresource=proxy)")
            self.send_response(403)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if mode == "error500":
            return self.send_json(500, status(500, "InternalError", "etcdserver: request timed out"))
        if url.path == "/pods":
            return self.kubelet_pods()
        node = None
        selector = query.get("fieldSelector", "")
        if selector.startswith("spec.nodeName="):
            node = selector[len("spec.nodeName="):]
        elif selector:
            return self.send_json(400, status(400, "BadRequest", "unsupported field selector"))
        if query.get("watch") in ("1", "true"):
            self.watch(query, node)
        else:
            self.list(query, node)

    def list(self, query, node):
        state = self.server.state
        with state.cond:
            state.stats["lists"] += 1
            state.stats["last_list_query"] = query
            limit = int(query.get("limit", "0") or 0)
            if state.page_size:
                limit = min(limit, state.page_size) if limit else state.page_size
            token = query.get("continue")
            if token:
                if token not in state.snapshots:
                    return self.send_json(410, status(410, "Expired", "the continue token "
                                                      "has expired"))
                rv, items = state.snapshots.pop(token)
            else:
                rv = state.rv
                items = [copy.deepcopy(p) for p in state.pods.values() if on_node(p, node)]
            page, rest = (items[:limit], items[limit:]) if limit else (items, [])
            metadata = {"resourceVersion": str(rv)}
            if rest:
                token = base64.urlsafe_b64encode(os.urandom(12)).decode()
                state.snapshots[token] = (rv, rest)
                metadata["continue"] = token
                metadata["remainingItemCount"] = len(rest)
        self.send_json(200, {"kind": "PodList", "apiVersion": "v1", "metadata": metadata,
                             "items": page})

    def resource_list(self, group, namespace, plural):
        """A namespaced pod list, or a workload list from the fixtures."""
        state = self.server.state
        known = plural == "pods" and group == "/api/v1" or RESOURCES.get(plural, ("",))[0] == group
        if not known:
            return self.send_json(404, status(404, "NotFound", "the server could not find "
                                              "the requested resource"))
        if plural in state.forbidden:
            return self.send_json(403, status(
                403, "Forbidden", '%s is forbidden: User "test" cannot list resource "%s"'
                % (plural, plural)))
        with state.cond:
            state.stats["resource_lists"] += 1
            source = state.pods.values() if plural == "pods" else state.resources.get(plural, [])
            items = [copy.deepcopy(o) for o in source
                     if namespace is None or o.get("metadata", {}).get("namespace") == namespace]
            rv = state.rv
        kind = "PodList" if plural == "pods" else RESOURCES[plural][1]
        self.send_json(200, {"kind": kind, "apiVersion": "v1",
                             "metadata": {"resourceVersion": str(rv)}, "items": items})

    def kubelet_pods(self):
        state = self.server.state
        with state.cond:
            state.stats["kubelet_polls"] += 1
            items = [copy.deepcopy(p) for p in state.pods.values()]
        self.send_json(200, {"kind": "PodList", "apiVersion": "v1", "metadata": {},
                             "items": items})

    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def write_line(self, obj):
        data = (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n"
        if self.server.state.fragment and len(data) > 3:
            third = len(data) // 3
            for piece in (data[:third], data[third:2 * third], data[2 * third:]):
                self.write_chunk(piece)
                time.sleep(0.005)
        else:
            self.write_chunk(data)

    def watch(self, query, node):
        state = self.server.state
        timeout = float(query.get("timeoutSeconds", "1800"))
        bookmarks = query.get("allowWatchBookmarks") == "true"
        with state.cond:
            state.stats["watches"] += 1
            state.stats["last_watch_query"] = query
            mode, generation, cuts = state.mode, state.generation, state.cuts
            rv_text = query.get("resourceVersion", "")
            start = int(rv_text) if rv_text.isdigit() else 0
            expired = mode == "gone" or (start and start < state.compacted)
            initial = []
            if not start:  # "" or "0": the current state first, as ADDED events
                start = state.rv
                initial = [copy.deepcopy(p) for p in state.pods.values() if on_node(p, node)]
        if mode == "gone_http":
            return self.send_json(410, status(410, "Expired", "too old resource version"))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        gone = {"type": "ERROR", "object": status(
            410, "Expired", "too old resource version: %d (%d)" % (start, state.compacted))}
        if expired:
            self.write_line(gone)
            return self.write_chunk(b"")
        with state.cond:
            state.stats["open_watches"] += 1
        try:
            for pod in initial:
                self.write_line({"type": "ADDED", "object": pod})
            position = start
            deadline = time.monotonic() + timeout
            next_bookmark = time.monotonic() + (state.bookmark_interval or 1e9)
            while True:
                with state.cond:
                    pending = [e for e in state.events if e[0] > position]
                    if not pending and state.generation == generation:
                        wait = min(deadline, next_bookmark) - time.monotonic()
                        state.cond.wait(max(0.0, min(wait, 0.5)))
                        pending = [e for e in state.events if e[0] > position]
                    mode_now = state.mode
                    changed = state.generation != generation
                    rv_now = state.rv
                if changed:
                    generation = state.generation
                    if mode_now == "down" or state.cuts != cuts:
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return  # cut, without the last chunk
                    if mode_now == "garbage":
                        self.write_line(b"<html>proxy error</html>")
                        return self.write_chunk(b"")
                    if mode_now == "gone":
                        self.write_line(gone)
                        return self.write_chunk(b"")
                for rv, kind, pod, previous in pending:
                    seen = seen_as(kind, pod, previous, node)
                    if seen:
                        self.write_line({"type": seen, "object": pod})
                    position = rv
                now = time.monotonic()
                if bookmarks and state.bookmark_interval and now >= next_bookmark:
                    position = max(position, rv_now)
                    self.write_line({"type": "BOOKMARK", "object": {
                        "kind": "Pod", "apiVersion": "v1",
                        "metadata": {"resourceVersion": str(position)}}})
                    next_bookmark = now + state.bookmark_interval
                if now >= deadline:
                    return self.write_chunk(b"")  # timeoutSeconds: a clean end
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
        finally:
            with state.cond:
                state.stats["open_watches"] -= 1


class ControlHandler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fake-apiserver control: " + (fmt % args) + "\n")

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        state = self.server.state
        if self.path != "/_control/stats":
            return self.reply(404, {"error": "not found"})
        with state.cond:
            body = dict(state.stats, resourceVersion=str(state.rv), pods=len(state.pods),
                        mode=state.mode)
        self.reply(200, body)

    def do_POST(self):
        state = self.server.state
        length = int(self.headers.get("Content-Length", "0"))
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self.reply(400, {"error": "body is not JSON"})
        if self.path == "/_control/pods":
            return self.reply(*state.change(body.get("op"), body.get("pod") or {}))
        if self.path == "/_control/resources":
            with state.cond:
                if "forbidden" in body:
                    state.forbidden = set(body["forbidden"])
                if "plural" in body:
                    if body["plural"] not in RESOURCES:
                        return self.reply(400, {"error": "unknown resource"})
                    state.resources[body["plural"]] = list(body.get("items") or [])
            return self.reply(200, {"ok": True})
        with state.cond:
            if self.path == "/_control/mode":
                if body.get("mode") not in ("normal", "down", "slow", "garbage", "gone",
                                            "gone_http", "error500", "forbidden"):
                    return self.reply(400, {"error": "unknown mode"})
                state.mode = body["mode"]
                state.delay = float(body.get("delay", state.delay))
                state.generation += 1
            elif self.path == "/_control/compact":
                state.compacted = state.rv + 1
            elif self.path == "/_control/cut":
                state.cuts += 1
                state.generation += 1
            elif self.path == "/_control/config":
                state.page_size = body.get("page_size", state.page_size)
                state.bookmark_interval = float(body.get("bookmark_interval",
                                                         state.bookmark_interval))
                state.token = body.get("token", state.token)
                state.fragment = bool(body.get("fragment", state.fragment))
            else:
                return self.reply(404, {"error": "not found"})
            state.cond.notify_all()
        self.reply(200, {"ok": True})


class TlsServer(ThreadingHTTPServer):
    daemon_threads = True

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the request's thread: a client that
        # connects and says nothing cannot stall the accept loop.
        try:
            request.settimeout(10)
            request.do_handshake()
            request.settimeout(None)
        except (ssl.SSLError, OSError):
            return
        super().finish_request(request, client_address)


def make_certificates(directory):
    def run(*args):
        subprocess.run(["openssl", *args], check=True, cwd=directory,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
        "-subj", "/CN=fake-apiserver-ca")
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(directory, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext")
    return (os.path.join(directory, "server.crt"), os.path.join(directory, "server.key"),
            os.path.join(directory, "ca.crt"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="HTTPS port (0: any free one)")
    parser.add_argument("--control-port", type=int, default=0)
    parser.add_argument("--token", default="test-token")
    parser.add_argument("--dir", help="where the certificates go")
    parser.add_argument("--cert", help="server certificate (PEM); with --key and --ca")
    parser.add_argument("--key")
    parser.add_argument("--ca", help="CA file to report for --cert")
    parser.add_argument("--pods", help="JSON file with a list of pods to start with")
    parser.add_argument("--resources", help="JSON file: {plural: [objects]} for the workload "
                        "lists (deployments, replicasets, daemonsets, statefulsets, jobs, cronjobs)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    if args.cert and args.key:
        cert, key, ca = args.cert, args.key, args.ca or args.cert
    else:
        directory = args.dir or tempfile.mkdtemp(prefix="fake-apiserver-")
        os.makedirs(directory, exist_ok=True)
        cert, key, ca = make_certificates(directory)

    state = State(args.token)
    if args.pods:
        with open(args.pods) as f:
            for pod in json.load(f):
                state.change("add", pod)

    if args.resources:
        with open(args.resources) as f:
            for plural, items in json.load(f).items():
                if plural not in RESOURCES:
                    parser.error("--resources: unknown resource " + plural)
                state.resources[plural] = items

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    api = TlsServer(("127.0.0.1", args.port), ApiHandler)
    api.socket = context.wrap_socket(api.socket, server_side=True, do_handshake_on_connect=False)
    control = ThreadingHTTPServer(("127.0.0.1", args.control_port), ControlHandler)
    control.daemon_threads = True
    for server in (api, control):
        server.state, server.verbose = state, args.verbose
        threading.Thread(target=server.serve_forever, daemon=True).start()

    print(json.dumps({"ready": True, "port": api.server_address[1],
                      "control_port": control.server_address[1], "ca_file": ca}), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
