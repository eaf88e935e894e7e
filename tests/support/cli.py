"""Running the `guildhall` CLI as a subprocess."""

import os
import subprocess
import sys

from sqlalchemy.engine import URL


def run_cli(
    database_url: URL, *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DATABASE_URL": database_url.render_as_string(hide_password=False)} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "guildhall.cli", *args], input=stdin, env=env, capture_output=True, text=True, timeout=60
    )
