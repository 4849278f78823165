#!/usr/bin/env bash
# The measurement of docs/benchmarks.md, "Redis: spinning while it pays": measure_redis_spin against a
# private redis-server on loopback (one thread, then four: more than this machine's cores; then four
# processes of one thread and two of two, whose spins the count of waiting threads does not see), then
# through delay_proxy.py (each reply 200 us late).
#
#   benchmarks/caching/redis_spin.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
measure=${1:?usage: redis_spin.sh BUILD_DIR}/benchmarks/measure_redis_spin
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
server_port=$(free_port)
proxy_port=$(free_port)
redis-server --port "$server_port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
server=$!
python3 "$here/delay_proxy.py" "$proxy_port" "$server_port" 0.0002 &
proxy=$!
trap 'kill $proxy $server 2>/dev/null; wait 2>/dev/null || true' EXIT
for _ in $(seq 50); do redis-cli -p "$server_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
echo "-- redis-server on loopback"
"$measure" "$server_port" 5000
echo "-- redis-server on loopback, 4 threads on 4 connections"
"$measure" "$server_port" 5000 4
# processes_at_once N THREADS: N processes of THREADS threads each, each setting in turn, all the processes
# of a setting at once; their lines, then the sum of their throughputs and the mean CPU time per get.
processes_at_once() {
  for setting in sleep adaptive spin; do
    pids=()
    for i in $(seq "$1"); do
      "$measure" "$server_port" 5000 "$2" "$setting" >"$tmp/out.$i" &
      pids+=($!)
    done
    wait "${pids[@]}"
    cat "$tmp"/out.* | awk '{ print } { rate += $(NF - 6); cpu += $(NF - 3); n++ }
      END { printf "   together: %.0f gets/s, CPU %.1f us per get\n", rate, cpu / n }'
    rm -f "$tmp"/out.*
  done
}
tmp=$(mktemp -d)
echo "-- redis-server on loopback, 4 processes of 1 thread at once"
processes_at_once 4 1
echo "-- redis-server on loopback, 2 processes of 2 threads at once"
processes_at_once 2 2
rm -rf "$tmp"
echo "-- through a proxy that delays each reply 200 us"
"$measure" "$proxy_port" 3000
