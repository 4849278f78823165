#!/bin/sh
# `aimastery serve` makes room for --max-connections in its limit on open descriptors: started with a soft
# limit of 256, it raises it to what the connections need (within the hard limit); when the hard limit is
# too low, it says so on stderr and serves anyway. Usage: cli_serve_descriptors.sh AIMASTERY_EXECUTABLE
# REGISTRY (the registry of the serving peers, fixture serving_peer).
set -u
cli=$1 registry=$2
work=$(mktemp -d) || exit 1
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "FAILED: $*"; exit 1; }
command -v prlimit >/dev/null || fail "prlimit (util-linux) is needed"
cp -R "$registry" "$work/registry" || fail "cannot copy $registry"  # tests running at once share no files
registry=$work/registry

# serve_with SOFT HARD MAX_CONNECTIONS: starts the server under those limits; sets pid once it listens.
serve_with() {
  prlimit --nofile="$1:$2" "$cli" serve --registry "$registry" --port 0 --max-connections "$3" \
    >"$work/out" 2>"$work/err" &
  pid=$!
  for _ in $(seq 100); do
    grep -q "^listening on" "$work/out" && return 0
    kill -0 "$pid" 2>/dev/null || fail "serve exited: $(cat "$work/err")"
    sleep 0.1
  done
  fail "serve did not listen within 10 s: $(cat "$work/err")"
}
# soft_limit: the server's soft limit on open files, from /proc.
soft_limit() { awk '/^Max open files/ { print $4 }' "/proc/$pid/limits"; }
stop() {
  kill -TERM "$pid"
  wait "$pid" || fail "serve exited $? on SIGTERM: $(cat "$work/err")"
  pid=
}

serve_with 256 4096 2000
[ "$(soft_limit)" -eq 2064 ] || fail "soft limit $(soft_limit), expected 2064 (2000 connections + 64)"
grep -q warning "$work/err" && fail "a warning with room enough: $(cat "$work/err")"
stop

serve_with 256 512 2000
[ "$(soft_limit)" -eq 512 ] || fail "soft limit $(soft_limit), expected the hard limit 512"
grep -qF "warning: --max-connections 2000 needs about 2064 open descriptors, and the limit is 512 (hard limit 512)" \
  "$work/err" || fail "no warning for a hard limit too low: $(cat "$work/err")"
stop
echo "serve raised its descriptor limit to fit --max-connections, and warned when the hard limit was too low"
