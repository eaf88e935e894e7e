#!/usr/bin/env bash
# Runs a command as on a machine with neither PostgreSQL nor Redis, after the venv is built:
# a network namespace of its own (only loopback up: nothing answers on 5432 or 6379, and no
# registry can be reached, so nothing is downloaded at run time), and a mount namespace in which
# the machine's PostgreSQL and Redis binaries are hidden (an empty directory or /dev/null over them).
# Root only (unshare). Used to prove the embedded path of `make run` and `make test`:
#   scripts/bare-machine.sh make test ARGS='tests/e2e/test_embedded.py'
#   scripts/bare-machine.sh sh -c 'make run & sleep 20; curl -s 127.0.0.1:8000/readyz; kill -INT 0'
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bare-machine: needs root (unshare -n -m)" >&2; exit 1; }
[ -x .venv/bin/guildhall ] || { echo "bare-machine: build the venv first (make venv)" >&2; exit 1; }

exec unshare --net --mount --propagation private -- bash -c '
  set -euo pipefail
  ip link set lo up
  empty=$(mktemp -d)
  for dir in /usr/lib/postgresql; do [ -d "$dir" ] && mount --bind "$empty" "$dir"; done
  for name in postgres pg_ctl initdb pg_ctlcluster redis-server redis-cli; do
    for bin in /usr/bin/$name /usr/sbin/$name /usr/local/bin/$name; do
      if [ -e "$bin" ]; then mount --bind /dev/null "$bin"; fi
    done
  done
  unset DATABASE_URL REDIS_URL TEST_DATABASE_URL TEST_REDIS_URL
  exec "$@"
' bare-machine "$@"
