"""HTTP benchmark of Guildhall against baselines started in the same run: `python -m bench.api`.

Four baselines (bench/baselines/) and Guildhall (one uvicorn process; the same through a
PgBouncer in transaction mode that the bench starts, bench/api/pgbouncer.py; two processes for
posts as the scale check) take turns on the same migrated scratch database, one app at a
time, in interleaved rounds; wrk drives POST /posts and POST /heroes/{id}/transfer, and, on
Guildhall and two of the baselines, two anonymous reads (GET /posts/{id}, GET /posts?limit=20;
bench/api/reads.py) whose answers the report compares with Guildhall's. Then,
with Guildhall alone (one API process and the short-queue worker): a nested read against one
json_agg statement, and an open-loop transfer load that times the audit pipeline (outbox ->
worker -> transfer_log). Prints a table, the ratios (PgBouncer / direct among them) and each
goal as PASS/MISS. Needs wrk and pgbouncer (Debian: apt-get install -y wrk pgbouncer).
`--quick` runs everything tiny (the end-to-end test uses it).
"""
