"""Baseline apps for bench.api, written by us, over the same tables as Guildhall.

Each module is one small app with `POST /posts`, `POST /heroes/{id}/transfer` and `GET /healthz`,
run by bench.api under uvicorn exactly like Guildhall (one process, same server options). None of
them imports `shared` or `services`: a baseline must not get faster or slower when Guildhall's
code changes.
"""
