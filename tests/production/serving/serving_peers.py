"""What the peer scripts of tests/production/serving share: starting and stopping `aimastery serve`, and a
known stream of requests whose effect on every counter is computed here (Python standard library only).

The registry is the one the C++ test "writes a registry for the client peers" writes: `forest` (a random
forest on 4 features; versions 1 and 2, aliases champion -> 1, challenger -> 2) and `mlp` (a float32
network, 4 features in, 2 out).
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request


def check(condition, message):
    if not condition:
        raise AssertionError(message)
    print("ok:", message, flush=True)


def start_server(binary, registry, extra=()):
    """Starts `aimastery serve --registry REGISTRY --port 0 EXTRA...`; returns (process, "host:port")."""
    process = subprocess.Popen([binary, "serve", "--registry", str(registry), "--port", "0", *extra],
                               stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline().strip()
    if not line.startswith("listening on http://"):
        stop(process)
        sys.exit(f"unexpected first line from aimastery serve: {line!r}")
    return process, line[len("listening on http://"):]


def stop(process, timeout=10):
    """SIGTERM, then SIGKILL if it has not exited after `timeout` seconds; returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


def copy_registry(folder, scratch):
    """A private copy of DIR/registry in `scratch`, so that peers running at once share no files."""
    target = os.path.join(scratch, "registry")
    shutil.copytree(os.path.join(folder, "registry"), target)
    return target


def request(address, path, body=None, timeout=10):
    """(HTTP status, body as text) of GET (body None) or POST of a JSON body."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://{address}{path}", data=data,
                                 headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def infer(address, model, rows, version=None, datatype="FP64"):
    path = f"/v2/models/{model}" + (f"/versions/{version}" if version else "") + "/infer"
    body = {"inputs": [{"name": "input", "shape": [len(rows), len(rows[0])], "datatype": datatype,
                        "data": [x for row in rows for x in row]}]}
    return request(address, path, body)


class Traffic:
    """Sends known requests and counts what each series of the server must then show.

    forest: `reference` requests of 50 distinct N(0, 1) rows (the first 500 rows are the drift reference),
    `shifted` requests of 50 distinct rows shifted by +3 on every feature (the drift window), then the first
    `repeats` shifted requests again (every row a cache hit); mlp: `mlp` requests of 8 rows in FP32; and the
    refusals: a wrong shape to forest (400) and two unknown models (404, counted as model "_unknown").
    """

    def __init__(self, address, seed=7):
        self.address = address
        self.random = random.Random(seed)
        self.codes = {}  # (model label, HTTP status) -> requests
        self.rows_predicted = {"forest": 0, "mlp": 0}  # rows that missed the cache
        self.cache_hits = {"forest": 0, "mlp": 0}

    def rows(self, n, shift=0.0):
        return [[self.random.gauss(0, 1) + shift for _ in range(4)] for _ in range(n)]

    def send(self, model, rows, label=None, version=None, datatype="FP64", expect=200, hits=0):
        status, body = infer(self.address, model, rows, version, datatype)
        if status != expect:
            raise AssertionError(f"{model} answered {status} (expected {expect}): {body[:200]}")
        key = (label or model, status)
        self.codes[key] = self.codes.get(key, 0) + 1
        if status == 200:
            self.rows_predicted[model] += len(rows) - hits
            self.cache_hits[model] += hits
        return body

    def run(self, reference=10, shifted=5, repeats=2, mlp=3):
        for _ in range(reference):
            self.send("forest", self.rows(50))
        sent_shifted = [self.rows(50, shift=3.0) for _ in range(shifted)]
        for rows in sent_shifted:
            self.send("forest", rows)
        for rows in sent_shifted[:repeats]:
            self.send("forest", rows, hits=len(rows))
        for _ in range(mlp):
            self.send("mlp", self.rows(8), datatype="FP32")
        self.send("forest", [row[:3] for row in self.rows(2)], expect=400)
        self.send("no-such-model", self.rows(1), label="_unknown", expect=404)
        self.send("other-model", self.rows(1), label="_unknown", expect=404)
        return self

    def requests(self, model):
        """Requests answered for `model` (any status)."""
        return sum(n for (m, _), n in self.codes.items() if m == model)
