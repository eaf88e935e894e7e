"""HTTP benchmark of Guildhall against baselines started in the same run: `python -m bench.api`.

Four baselines (bench/baselines/) and Guildhall (one uvicorn process, plus two processes for
posts as the scale check) take turns on the same migrated scratch database, one app at a
time, in interleaved rounds; wrk drives POST /posts and POST /heroes/{id}/transfer. Then,
with Guildhall alone (one API process and the short-queue worker): a nested read against one
json_agg statement, and an open-loop transfer load that times the audit pipeline (outbox ->
worker -> transfer_log). Prints a table, the ratios and each goal as PASS/MISS.
`--quick` runs everything tiny (the end-to-end test uses it).
"""
