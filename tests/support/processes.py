"""Guildhall's processes as a test starts them (tests/e2e/conftest.py holds the Service that runs them)."""

from pathlib import Path

from tests.e2e.conftest import Service, api_ready, executable
from tests.support.network import free_port


def guildhall_api(env: dict[str, str], log_dir: Path) -> tuple[Service, str]:
    """`guildhall api` as deployed: WEB_CONCURRENCY processes on one port, its start-up checks
    included (they must not need the pooler's `postgres` database)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    argv = [executable("guildhall"), "api", "--port", str(port)]
    service = Service(
        "api", argv, {**env, "WEB_CONCURRENCY": "2"}, log_dir / "api.log", ready=lambda _: api_ready(base_url)
    )
    return service, base_url
