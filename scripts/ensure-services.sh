#!/usr/bin/env bash
# Starts the local PostgreSQL and Redis when they are not answering (machines
# without Docker). With Docker, `docker compose up -d postgres redis` does the same.
set -euo pipefail

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

wait_for() { # name, check
  for _ in $(seq 1 30); do "$2" && return 0; sleep 1; done
  echo "$1 did not come up" >&2; return 1
}

if pg_up; then
  echo "== postgres is up"
else
  echo "== starting postgres"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  wait_for postgres pg_up
fi

if redis_up; then
  echo "== redis is up"
else
  echo "== starting redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for redis redis_up
fi
