#!/usr/bin/env bash
# The CTest fixture of the tests labelled `redis`: a private redis-server on a free loopback port, without
# persistence.
#   redis_server.sh start DIR   start it; write its port to DIR/port (the tests read that file)
#   redis_server.sh stop DIR    stop it
set -u
action=${1:?usage: redis_server.sh start|stop DIR}
dir=${2:?usage: redis_server.sh start|stop DIR}
server=${AIMASTERY_REDIS_SERVER:-redis-server}
pidfile="$dir/redis.pid"

server_pid_on() {  # the process id reported by the server answering on port $1
  redis-cli -h 127.0.0.1 -p "$1" info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p'
}

case "$action" in
  start)
    mkdir -p "$dir"
    command -v "$server" >/dev/null || { echo "redis_server.sh: $server not found (apt-get install redis-server)"; exit 1; }
    command -v redis-cli >/dev/null || { echo "redis_server.sh: redis-cli not found (apt-get install redis-tools)"; exit 1; }
    for attempt in $(seq 1 40); do
      port=$((20000 + RANDOM % 40000))
      # A port anything listens on is taken.
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
      rm -f "$pidfile"
      "$server" --bind 127.0.0.1 --port "$port" --save "" --appendonly no --daemonize yes \
        --pidfile "$pidfile" --logfile "$dir/redis.log" --dir "$dir" >/dev/null 2>&1 || continue
      for _ in $(seq 1 50); do
        if [ -s "$pidfile" ] && [ "$(server_pid_on "$port")" = "$(cat "$pidfile")" ]; then
          echo "$port" >"$dir/port"
          echo "redis-server $(cat "$pidfile") listening on 127.0.0.1:$port"
          exit 0
        fi
        sleep 0.1
      done
      [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
    done
    echo "redis_server.sh: could not start $server on a free port (see $dir/redis.log)"
    exit 1
    ;;
  stop)
    if [ -s "$pidfile" ]; then
      pid=$(cat "$pidfile")
      kill "$pid" 2>/dev/null
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -9 "$pid" 2>/dev/null
    fi
    rm -f "$pidfile" "$dir/port"
    exit 0
    ;;
  *)
    echo "usage: redis_server.sh start|stop DIR"
    exit 2
    ;;
esac
