#!/usr/bin/env bash
# The HTTP layer alone under load (docs/benchmarks.md, "The HTTP server: idle clients hold no worker"):
# http_echo_server (8 workers) answers every request with a short fixed body while wrk keeps 1, 8 and 64
# connections busy for 5 s each; prints wrk's throughput and latency percentiles and the server's CPU time
# per request.
#
#   benchmarks/serving/http_load.sh BUILD_DIR [CONNECTIONS...]      (default: 1 8 64; needs wrk)
set -euo pipefail
server=${1:?usage: http_load.sh BUILD_DIR [CONNECTIONS...]}/benchmarks/http_echo_server
shift
command -v wrk >/dev/null || { echo "http_load: needs wrk (apt-get install wrk)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for connections in "${@:-1 8 64}"; do
  for c in $connections; do
    "$server" "$work/port" 7 8 >"$work/server" &
    pid=$!
    while [[ ! -s $work/port ]]; do sleep 0.05; done
    wrk_threads=$((c < 2 ? 1 : 2))
    echo "-- $c connections, wrk -t$wrk_threads, 5 s"
    wrk -t"$wrk_threads" -c"$c" -d5s --latency "http://127.0.0.1:$(cat "$work/port")/v2/health/ready" |
      grep -E "Requests/sec|^ +(50|90|99)%"
    wait "$pid"
    cat "$work/server"
    rm -f "$work/port"
  done
done
