#!/usr/bin/env bash
# Run inside scripts/bare-machine.sh (no PostgreSQL or Redis reachable or installed), from a checkout
# with .venv built and no .guildhall/ (its data is kept after: rm -rf .guildhall to start over):
#   scripts/bare-machine.sh scripts/prove-embedded.sh
# Uses port 8000 of the namespace, the demo data set, and logs in /tmp/bare2-*.log.
# make run from nothing; kill -9 of make run; make run again (reuse); Ctrl-C.
set -u
cd "$(dirname "$0")/.."
API=http://127.0.0.1:8000/api/v1
start() {
  setsid make run > /tmp/bare2-$1.log 2>&1 &
  pid=$!
  for _ in $(seq 120); do curl -sf -m 1 127.0.0.1:8000/readyz >/dev/null && break; sleep 0.5; done
  echo "== $1: readyz $(curl -s 127.0.0.1:8000/readyz)"; grep '^guildhall: ' /tmp/bare2-$1.log
}
servers() { ps -eo pid,user,args | grep -E 'pginstall/bin/postgres -D|valkey-server' | grep -v grep || echo "  (no embedded server running)"; }
start first
.venv/bin/guildhall seed-demo | head -1
TOKEN=$(curl -s -X POST $API/auth/token -d username=admin -d password=guildhall-demo | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -s -o /dev/null -w "transfer: %{http_code}\n" -X POST $API/heroes/1/transfer -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"to_team_id": 2}'
sleep 1.5; echo "TransferLogs of hero 1: $(curl -s $API/heroes/1/transfers | .venv/bin/python -c 'import json,sys; print([(t["from_team_id"], t["to_team_id"]) for t in json.load(sys.stdin)["items"]])')"
kill -9 -- -$pid; wait $pid 2>/dev/null; sleep 1
echo "== after kill -9 of make run's process group, still running:"; servers
start second
curl -s -o /dev/null -w "login after the crash: %{http_code}\n" -X POST $API/auth/token -d username=admin -d password=guildhall-demo
kill -INT -- -$pid; wait $pid; echo "make run exited with $? after Ctrl-C"
sleep 1; echo "== after Ctrl-C:"; servers
ps -eo pid,args | grep -E 'guildhall (api|worker)|run-all' | grep -v grep || echo "  (no API, worker or run-all left)"
