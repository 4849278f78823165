"""RedisCache against redis-benchmark on the same private redis-server (started here on a free loopback
port without persistence, stopped at exit).

- "redis batch get 1000 keys": our get_many of 1000 keys (one MGET) against redis-benchmark -P 16 GET
  (50 clients, pipelines of 16). Throughput is expressed as time per key (seconds / GET) on both sides, so
  that the ratio reads like every other row: lower is better, and ratio <= 1.25 means our throughput is
  at least 0.8x redis-benchmark's.
- "redis single get p50": median latency of one GET on one connection, ours (the default options: the
  client spins on its read for up to busy_poll = 50 us before it sleeps in poll(), while spinning finds the
  replies) against redis-benchmark -c 1; "(busy_poll 0)": ours sleeping in poll() at once.
"""
import atexit
import csv
import io
import os
import shutil
import socket
import subprocess
import tempfile
import time

from run import Task

_server = {}


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop():
    proc = _server.get("proc")
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
    if _server.get("dir"):
        shutil.rmtree(_server["dir"], ignore_errors=True)


def _port():
    """Starts the private redis-server on first use; returns its port."""
    if "port" in _server:
        return _server["port"]
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="aimastery-redis-")
    proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                             "--appendonly", "no", "--dir", workdir, "--loglevel", "warning"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _server.update(proc=proc, port=port, dir=workdir)
    atexit.register(_stop)
    for _ in range(100):
        ping = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True)
        if ping.stdout.strip() == "PONG":
            return port
        time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def _redis_benchmark(*args):
    """Runs redis-benchmark --csv; returns the GET row as a dict."""
    out = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(_port()), "--csv", *map(str, args)],
                         check=True, capture_output=True, text=True).stdout
    for row in csv.DictReader(io.StringIO(out)):
        if row["test"].startswith("GET"):
            return row
    raise RuntimeError("redis-benchmark printed no GET row:\n" + out)


def _peer_batch():
    best = float("inf")
    for _ in range(3):
        row = _redis_benchmark("-t", "set,get", "-n", "200000", "-P", "16")
        best = min(best, 1.0 / float(row["rps"]))
    return best


def _peer_p50():
    best = float("inf")
    for _ in range(3):
        row = _redis_benchmark("-t", "set,get", "-n", "20000", "-c", "1")
        best = min(best, float(row["p50_latency_ms"]) / 1000.0)
    return best


def tasks(ctx):
    if not shutil.which("redis-server") or not shutil.which("redis-benchmark"):
        return []
    version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
    version = version.replace("v=", "")
    return [
        Task("redis batch get 1000 keys", f"redis-benchmark -P 16 (Redis {version})",
             lambda: min(ctx.ours("caching", "batch_get", _port(), 1000)["seconds"] for _ in range(3)),
             _peer_batch,
             note="seconds per GET (1 / throughput): lower is better; <= 1.25 means >= 0.8x its throughput"),
        Task("redis single get p50", f"redis-benchmark -c 1 (Redis {version})",
             lambda: min(ctx.ours("caching", "single_get_p50", _port(), 20000)["seconds"] for _ in range(3)),
             _peer_p50,
             note="median latency of one GET on one connection, default options (adaptive busy_poll 50 us)"),
        Task("redis single get p50 (busy_poll 0)", f"redis-benchmark -c 1 (Redis {version})",
             lambda: min(ctx.ours("caching", "single_get_p50", _port(), 20000, 0)["seconds"] for _ in range(3)),
             _peer_p50,
             note="RedisCacheOptions::busy_poll = 0: the client sleeps in poll() at once"),
    ]
