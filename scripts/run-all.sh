#!/usr/bin/env bash
# Migrates, then runs the API and both workers in this terminal. Ctrl-C (or SIGTERM) stops them all:
# each gets SIGTERM, uvicorn finishes its requests and the workers finish running jobs.
# `make run` runs this under `guildhall servers run`, which provides DATABASE_URL and REDIS_URL
# (embedded servers when none is configured) and stops those servers after this script exits.
set -uo pipefail
BIN=${BIN:-.venv/bin}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}

"$BIN/guildhall" migrate || exit $?

pids=()
stop() {
  # Ignore further signals (not reset them): a second Ctrl-C, or a TERM sent both to this script and
  # to its parent, must not kill the script mid-stop and orphan the processes it is waiting for.
  trap '' INT TERM HUP
  echo "run-all: stopping ${pids[*]}" >&2
  kill -TERM "${pids[@]}" 2>/dev/null
  wait
  exit 0
}
# HUP: the terminal closed; stop as cleanly as for Ctrl-C.
trap stop INT TERM HUP

# WEB_CONCURRENCY API processes (default: one per CPU; `guildhall api` prints how many).
"$BIN/guildhall" api --host "$HOST" --port "$PORT" & pids+=($!)
"$BIN/guildhall" worker --queue short & pids+=($!)
"$BIN/guildhall" worker --queue bulk & pids+=($!)

# If any of them dies on its own, stop the others too: half a service is no service.
wait -n
echo "run-all: a process exited; stopping the rest" >&2
stop
