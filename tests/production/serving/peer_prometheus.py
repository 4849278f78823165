"""A real Prometheus server scrapes `aimastery serve`, and its query API returns what was sent.

    peer_prometheus.py AIMASTERY_BINARY DIR

DIR holds what the C++ test "writes a registry for the client peers" wrote. This script starts
`aimastery serve` on a copy of DIR/registry (port 0, prediction cache on) and `prometheus` (Debian's
binary, run directly: its own configuration scraping the server every second, its storage in a temporary
folder, its web API on a free loopback port), sends a known stream of requests (serving_peers.Traffic),
then asks Prometheus' HTTP query API (/api/v1/query) until its series hold what was sent:

  aimastery_requests_total{model, code}         the requests, by model and status, exactly
  aimastery_request_duration_seconds_bucket     cumulative buckets ending in +Inf = the model's requests,
                                                equal to the server's own /metrics; histogram_quantile works
  aimastery_batch_rows_sum                      the rows predicted (cache misses)
  aimastery_cache_hits_total / _misses_total    the repeated rows / the rows seen first
  aimastery_drift_share                         1: every feature of the shifted inputs drifted
  up{job="aimastery"}                           1

Both processes are stopped at the end, also on failure. Exit 0: all agree; 1: a mismatch; 77: no
`prometheus` binary (ctest reports the test skipped).
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

from serving_peers import Traffic, check, copy_registry, request, start_server, stop

CONFIG = """global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: aimastery
    static_configs:
      - targets: ["{target}"]
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_prometheus(binary, scratch, target):
    """Prometheus on a free loopback port; returns (process, "127.0.0.1:port", log path)."""
    config = os.path.join(scratch, "prometheus.yml")
    with open(config, "w") as f:
        f.write(CONFIG.format(target=target))
    log_path = os.path.join(scratch, "prometheus.log")
    for _ in range(3):  # the port found free may be taken before Prometheus binds it: try another
        address = f"127.0.0.1:{free_port()}"
        with open(log_path, "w") as log:
            process = subprocess.Popen([binary, f"--config.file={config}",
                                        f"--storage.tsdb.path={os.path.join(scratch, 'data')}",
                                        f"--web.listen-address={address}", "--log.level=warn"],
                                       stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if request(address, "/-/ready", timeout=1)[0] == 200:
                    return process, address, log_path
            except OSError:
                pass
            time.sleep(0.1)
        stop(process)
    with open(log_path) as log:
        sys.exit("prometheus did not become ready:\n" + log.read())


def query(prometheus, promql):
    status, body = request(prometheus, "/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
    answer = json.loads(body)
    if status != 200 or answer.get("status") != "success":
        raise AssertionError(f"query {promql!r}: {status} {body[:300]}")
    return {tuple(sorted((k, v) for k, v in r["metric"].items() if k not in ("__name__", "job", "instance"))): float(r["value"][1])
            for r in answer["data"]["result"]}


def wait_for(prometheus, promql, expected, timeout=15):
    """The query's series (labels -> value) once they equal `expected` (a dict, or a predicate on the dict)."""
    deadline = time.monotonic() + timeout
    while True:
        got = query(prometheus, promql)
        good = expected(got) if callable(expected) else got == expected
        if good or time.monotonic() > deadline:
            check(good, f"Prometheus {promql} = {got}" + ("" if callable(expected) else f" (expected {expected})"))
            return got
        time.sleep(0.25)


def own_metrics(address, name):
    """The samples of `name` in the server's /metrics, as labels -> value (the same keys as query())."""
    status, text = request(address, "/metrics")
    check(status == 200, "the server's /metrics")
    samples = {}
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        labels, value = line[len(name) + 1:].rsplit("} ", 1)
        pairs = tuple(sorted(tuple(p.split("=", 1)) for p in labels.split(",")))
        samples[tuple((k, v.strip('"')) for k, v in pairs)] = float(value)
    return samples


def main():
    binary, folder = sys.argv[1], sys.argv[2]
    prometheus_binary = shutil.which("prometheus")
    if not prometheus_binary:
        print("skipped: no prometheus binary (apt-get install prometheus)")
        sys.exit(77)
    print(subprocess.run([prometheus_binary, "--version"], capture_output=True, text=True).stdout.splitlines()[0])
    processes = []
    with tempfile.TemporaryDirectory() as scratch:
        try:
            server, address = start_server(binary, copy_registry(folder, scratch), ["--cache-size", "10000"])
            processes.append(server)
            prom, prometheus, log_path = start_prometheus(prometheus_binary, scratch, address)
            processes.append(prom)
            wait_for(prometheus, 'up{job="aimastery"}', {(): 1.0})

            t = Traffic(address).run()

            codes = {(("code", str(code)), ("model", model)): float(n) for (model, code), n in t.codes.items()}
            wait_for(prometheus, "aimastery_requests_total", codes)
            for model in ("forest", "mlp", "_unknown"):
                n = float(t.requests(model))
                wait_for(prometheus, f'aimastery_request_duration_seconds_count{{model="{model}"}}', {(("model", model),): n})
                buckets = wait_for(prometheus, f'aimastery_request_duration_seconds_bucket{{model="{model}"}}',
                                   lambda got, n=n: got.get((("le", "+Inf"), ("model", model))) == n)
                ordered = [v for _, v in sorted(((float(dict(k)["le"]), v) for k, v in buckets.items()))]
                check(all(a <= b for a, b in zip(ordered, ordered[1:])), f"{model}: the buckets are cumulative")
                own = {k: v for k, v in own_metrics(address, "aimastery_request_duration_seconds_bucket").items()
                       if dict(k)["model"] == model}
                check(own == buckets, f"{model}: {len(buckets)} buckets equal the server's /metrics")
            wait_for(prometheus, 'histogram_quantile(0.99, aimastery_request_duration_seconds_bucket{model="forest"})',
                     lambda got: len(got) == 1 and 0 < next(iter(got.values())) <= 10)
            for model in ("forest", "mlp"):
                wait_for(prometheus, f'aimastery_batch_rows_sum{{model="{model}"}}',
                         {(("model", model),): float(t.rows_predicted[model])})
                key = (("model", model), ("version", "1"))
                wait_for(prometheus, f'aimastery_cache_hits_total{{model="{model}"}}', {key: float(t.cache_hits[model])})
                wait_for(prometheus, f'aimastery_cache_misses_total{{model="{model}"}}',
                         {key: float(t.rows_predicted[model])})
            wait_for(prometheus, 'aimastery_drift_share{model="forest"}', {(("model", "forest"), ("version", "1")): 1.0})
            wait_for(prometheus, 'aimastery_feature_drift_statistic{model="forest"} > 0.5', lambda got: len(got) == 4)
            wait_for(prometheus, "count(aimastery_model_info)", {(): 2.0})
        except BaseException:
            for p in processes:
                stop(p)
            if len(processes) > 1:
                with open(log_path) as log:
                    print("prometheus log:\n" + log.read())
            raise
        code = stop(server)
        check(code == 0, f"aimastery serve: SIGTERM, exited with {code}")
        stop(prom)


if __name__ == "__main__":
    main()
