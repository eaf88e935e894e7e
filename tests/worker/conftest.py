"""Job tests use the worker fixtures of tests/conftest.py (job_pool, worker_ctx, run_worker)."""
