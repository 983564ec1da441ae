#!/usr/bin/env bash
# Redis on 127.0.0.1 for the replica tests (auth.redis_url: revocation pub/sub and
# shared lockout counters): no persistence, daemonized, pid and env files under
# $REDIS_TEST_DIR (default /tmp/nora-ts-redis). `start` is a no-op when it already
# answers and writes $DIR/env (REDIS_TEST_URL=...); `stop` ends it by PID and removes $DIR.
set -euo pipefail

DIR="${REDIS_TEST_DIR:-/tmp/nora-ts-redis}"
PORT="${REDIS_TEST_PORT:-6390}"

up() { redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null | grep -q PONG; }

case "${1:-}" in
  start)
    mkdir -p "$DIR"
    if ! up; then
      redis-server --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no --daemonize yes \
        --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" --dir "$DIR"
      for _ in $(seq 1 50); do up && break; sleep 0.1; done
      up || { echo "redis.sh: redis-server did not answer (log: $DIR/redis.log)" >&2; exit 1; }
    fi
    echo "REDIS_TEST_URL=redis://127.0.0.1:$PORT" >"$DIR/env"
    ;;
  stop)
    if [ -f "$DIR/redis.pid" ]; then
      pid=$(cat "$DIR/redis.pid")
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$DIR"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
