#!/usr/bin/env bash
# PostgreSQL and Redis for the tests (the PostgreSQL adapters' suites and the cluster test run in every
# suite; `npm run test:pg` runs all of it on them). Starts the machine's own when they do not answer and
# we may (root, Debian's packages); otherwise says what is missing. TEST_DATABASE_URL and TEST_REDIS_URL
# point the tests elsewhere, and then nothing is started here.
set -euo pipefail

pg_up () { pg_isready -q -h 127.0.0.1 -p 5432; }
redis_up () { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }
wait_for () { for _ in $(seq 1 50); do if "$1"; then return 0; fi; sleep 0.2; done; return 1; }

if [ -z "${TEST_DATABASE_URL:-}" ] && ! pg_up; then
  if [ "$(id -u)" = "0" ] && command -v pg_ctlcluster > /dev/null; then
    echo "starting PostgreSQL..."
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start
    wait_for pg_up || { echo "PostgreSQL did not start" >&2; exit 1; }
  else
    echo "the tests need PostgreSQL at 127.0.0.1:5432 (database test, user postgres) or TEST_DATABASE_URL" >&2
    exit 1
  fi
fi
if [ -z "${TEST_DATABASE_URL:-}" ] && ! psql -h 127.0.0.1 -U postgres -Atc 'SELECT 1' test > /dev/null 2>&1; then
  createdb -h 127.0.0.1 -U postgres test
fi

if [ -z "${TEST_REDIS_URL:-}" ] && ! redis_up; then
  if [ "$(id -u)" = "0" ] && command -v redis-server > /dev/null; then
    echo "starting Redis..."
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for redis_up || { echo "Redis did not start" >&2; exit 1; }
  else
    echo "the tests need Redis at 127.0.0.1:6379 or TEST_REDIS_URL" >&2
    exit 1
  fi
fi
