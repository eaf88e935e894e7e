#!/usr/bin/env bash
# Migrates, then runs the API and both workers in this terminal. Ctrl-C (or SIGTERM) stops them all:
# each gets SIGTERM, uvicorn finishes its requests and the workers finish running jobs.
# `make run` runs this under `guildhall servers run`, which provides DATABASE_URL and REDIS_URL
# (embedded servers when none is configured) and stops those servers after this script exits.
set -uo pipefail
BIN=${BIN:-.venv/bin}

"$BIN/guildhall" migrate || exit $?

declare -A names=()
stop() {
  # Ignore further signals (not reset them): a second Ctrl-C, or a TERM sent both to this script and
  # to its parent, must not kill the script mid-stop and orphan the processes it is waiting for.
  trap '' INT TERM HUP
  echo "run-all: $1: stopping the API and the workers" >&2
  kill -TERM "${!names[@]}" 2>/dev/null
  wait
  echo "run-all: stopped cleanly" >&2
  exit "${2:-0}"
}
# HUP: the terminal closed; stop as cleanly as for Ctrl-C.
trap 'stop "Ctrl-C"' INT
trap 'stop "SIGTERM"' TERM
trap 'stop "SIGHUP (terminal closed)"' HUP

# They stay in this process group: the terminal's Ctrl-C reaches them too (a signal trapped during
# `wait` runs its trap at once, so this script still stops them its one way), and a kill of the
# group leaves no orphan.
# WEB_CONCURRENCY API processes (default: one per CPU; `guildhall api` prints how many).
# HOST and PORT (from the environment or .env; 127.0.0.1:8000 by default) are read by the command.
"$BIN/guildhall" api & names[$!]="the API"
"$BIN/guildhall" worker --queue short & names[$!]="the short-queue worker"
"$BIN/guildhall" worker --queue bulk & names[$!]="the bulk-queue worker"

# If any of them stops on its own, stop the others too: half a service is no service. A trapped signal
# never gets here (its trap exits); a process does, when it fails or was sent a signal itself (or
# when this script was started with SIGINT ignored, as `cmd &` in a script does, so that only its
# children saw the Ctrl-C): status 0 is such a clean stop, and says so.
wait -n -p exited
status=$?
name=${names[$exited]:-a process}
if [ "$status" -eq 0 ]; then
  stop "$name stopped cleanly (status 0: a signal sent to it)" 0
fi
stop "$name exited with status $status" "$status"
