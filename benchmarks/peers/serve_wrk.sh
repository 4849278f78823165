#!/usr/bin/env bash
# Throughput and latency of `aimastery serve` and of FastAPI + uvicorn + scikit-learn (serve_fastapi.py)
# on the same models and the same request bodies, with wrk (Debian) at 1, 8, 32 and 64 connections: the
# random forest (scikit-learn peer) and the float32 MLP (PyTorch peer with the same weights).
#
#   benchmarks/peers/serve_wrk.sh AIMASTERY_BINARY REGISTRY [PYTHON] [SECONDS]
#
# REGISTRY: the folder the C++ test "writes a registry for the client peers" makes (ctest -R
# production_serving_peer_write; it is build/<dir>/tests/production/serving/clients_peer/registry).
# PYTHON: the venv's interpreter (fastapi, uvicorn, scikit-learn; default: that of $AIMASTERY_VENV or
# .venv). One request = one row of 4 features. HTTP_THREADS: the server's --threads (default 8, its default;
# a connection holds a worker only while it is answered, so 64 connections need no 64 threads).
# Prints one line per server and connection count: requests/s, p50 and p99 latency (wrk --latency), and
# the server process's CPU time (user + system, /proc/PID/stat) per request, which the load of other
# processes on the machine does not change.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
binary="$1"; registry="$(cd "$2" && pwd)"; python="${3:-${AIMASTERY_VENV:-$here/../../.venv}/bin/python}"; seconds="${4:-10}"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

for dt in FP64 FP32; do
  body='{"id":"1","inputs":[{"name":"input","shape":[1,4],"datatype":"'$dt'","data":[0.5,-0.25,0.75,0.1]}]}'
  cat > "$work/post_$dt.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA
done
connections="${CONNECTIONS:-1 8 32 64}"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # user + system time of a process, in clock ticks

run_wrk() {  # name url connections server_pid
  local out script="$work/post_FP64.lua" before after
  case "$2" in */mlp/*) script="$work/post_FP32.lua" ;; esac
  before="$(cpu_ticks "$4")"
  out="$(wrk -t "$(( $3 < 2 ? 1 : 2 ))" -c "$3" -d "${seconds}s" --latency -s "$script" "$2")"
  after="$(cpu_ticks "$4")"
  local rps p50 p99 non2xx requests cpu
  rps="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
  p50="$(echo "$out" | awk '$1 == "50%" {print $2}')"
  p99="$(echo "$out" | awk '$1 == "99%" {print $2}')"
  non2xx="$(echo "$out" | awk '/Non-2xx/ {print $NF}')"
  requests="$(echo "$out" | awk '/requests in/ {print $1}')"
  cpu="$(awk -v t="$((after - before))" -v hz="$(getconf CLK_TCK)" -v n="$requests" \
    'BEGIN {printf "%.1f", (n > 0 ? t / hz * 1e6 / n : 0)}')"
  printf '%-30s connections %3d  %10s req/s  p50 %9s  p99 %9s  cpu %7s us/request  %s\n' "$1" "$3" "$rps" \
    "$p50" "$p99" "$cpu" "${non2xx:+non-2xx $non2xx}"
}

wait_ready() {  # url
  for _ in $(seq 1 200); do curl -sf "$1/v2/health/ready" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "server at $1 did not become ready" >&2; exit 1
}

# aimastery serve, batching on (default) and off. SERVERS=fastapi (or aimastery) runs only one side.
servers="${SERVERS:-aimastery fastapi}"
for mode in "batch 32" "batch 1"; do
  [[ " $servers " == *" aimastery "* ]] || break
  set -- $mode
  "$binary" serve --registry "$registry" --port 0 --max-batch "$2" --threads "${HTTP_THREADS:-8}" > "$work/url" &
  pids+=($!)
  for _ in $(seq 1 100); do [ -s "$work/url" ] && break; sleep 0.1; done
  url="$(sed -n 's/^listening on //p' "$work/url")"
  wait_ready "$url"
  for model in forest mlp; do
    for c in $connections; do run_wrk "aimastery $model (batch $2)" "$url/v2/models/$model/infer" "$c" "${pids[-1]}"; done
  done
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
  : > "$work/url"
done

[[ " $servers " == *" fastapi "* ]] || exit 0
port=18731
(cd "$here" && exec "$python" serve_fastapi.py "$port" --mlp "$registry/models/mlp/versions/1/model.safetensors") &
pids+=($!)
wait_ready "http://127.0.0.1:$port"
for model in forest mlp; do
  for c in $connections; do
    run_wrk "fastapi $model (1 worker)" "http://127.0.0.1:$port/v2/models/$model/infer" "$c" "${pids[-1]}"
  done
done
