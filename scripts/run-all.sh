#!/usr/bin/env bash
# Runs the API and both workers in this terminal. Ctrl-C (or SIGTERM) stops them all:
# each gets SIGTERM, uvicorn finishes its requests and the workers finish running jobs.
set -uo pipefail
BIN=${BIN:-.venv/bin}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
# API processes: they keep no state of their own (a caller cache of a few seconds at most), so any
# number can serve the same port. Default: one per CPU.
WEB_CONCURRENCY=${WEB_CONCURRENCY:-$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}
echo "run-all: API on http://$HOST:$PORT with $WEB_CONCURRENCY process(es) (WEB_CONCURRENCY), workers for the short and bulk queues" >&2

pids=()
stop() {
  trap - INT TERM
  echo "run-all: stopping ${pids[*]}" >&2
  kill -TERM "${pids[@]}" 2>/dev/null
  wait
  exit 0
}
trap stop INT TERM

"$BIN/uvicorn" services.api.main:app --host "$HOST" --port "$PORT" --workers "$WEB_CONCURRENCY" & pids+=($!)
"$BIN/guildhall" worker --queue short & pids+=($!)
"$BIN/guildhall" worker --queue bulk & pids+=($!)

# If any of them dies on its own, stop the others too: half a service is no service.
wait -n
echo "run-all: a process exited; stopping the rest" >&2
stop
