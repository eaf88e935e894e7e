"""`guildhall api` fails closed: it never listens beyond this machine with the development secret
(which is in the source, so anyone could sign tokens), and the image runs as ENVIRONMENT=production,
where the settings refuse to start without a SECRET_KEY. Run as the real command, from outside."""

import json
import os
import shlex
import socket
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, Service, Stack, api_ready, executable
from tests.support.network import free_port

RUN_TIMEOUT = 60.0


def dockerfile_env() -> dict[str, str]:
    """The variables the Dockerfile's ENV instructions set (continuation lines joined)."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    found: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["ENV"]:
            found.update(word.split("=", 1) for word in words[1:] if "=" in word)
    return found


def dockerfile_cmd() -> list[str]:
    line = next(line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD "))
    command: list[str] = json.loads(line.removeprefix("CMD "))
    return command


def without_secret(env: dict[str, str], **settings: str) -> dict[str, str]:
    return {**{name: value for name, value in env.items() if name != "SECRET_KEY"}, **settings}


def guildhall(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # cwd: a directory of the test's own, so no `.env` of the checkout supplies a SECRET_KEY.
    return subprocess.run(
        [executable("guildhall"), *argv], env=env, cwd=cwd, capture_output=True, text=True, timeout=RUN_TIMEOUT
    )


def test_the_image_runs_in_production() -> None:
    assert dockerfile_env().get("ENVIRONMENT") == "production"


def test_the_image_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    # The image's own environment and command (on a free port: nothing must listen anyway). The
    # settings refuse before any server is looked for.
    env = without_secret({**os.environ, **dockerfile_env()})
    command = dockerfile_cmd()
    assert command[:2] == ["guildhall", "api"] and "0.0.0.0" in command
    argv = [*command[1 : command.index("--port") + 1], str(free_port())]
    result = guildhall(argv, env, tmp_path)
    assert result.returncode == 1, result
    assert result.stderr.splitlines() == [
        # pydantic's "Value error, " prefix is left out: the line says what to set, nothing else.
        "guildhall api: invalid configuration: settings: SECRET_KEY must be set when ENVIRONMENT=production"
    ], result.stderr
    assert "Uvicorn running" not in result.stdout + result.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "guildhall.example", ""])
def test_a_public_address_with_the_development_secret_is_refused(stack: Stack, tmp_path: Path, host: str) -> None:
    env = without_secret(stack.env, ENVIRONMENT="development")
    port = free_port()
    result = guildhall(["api", "--host", host, "--port", str(port)], env, tmp_path)
    assert result.returncode == 1, result
    assert result.stderr.splitlines() == [
        f"guildhall api: refusing to listen on {host} with the development SECRET_KEY: set SECRET_KEY"
        " (python -c 'import secrets; print(secrets.token_urlsafe(48))') or bind 127.0.0.1"
    ], result.stderr
    assert "Uvicorn running" not in result.stdout


def can_bind(host: str) -> bool:
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.bind((host, 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_loopback_with_the_development_secret_still_serves(stack: Stack, tmp_path: Path, host: str) -> None:
    if not can_bind(host):
        pytest.skip(f"this machine cannot bind {host}")
    port = free_port()
    url = f"http://{'[::1]' if host == '::1' else '127.0.0.1'}:{port}"
    service = Service(
        f"guildhall api --host {host}",
        [executable("guildhall"), "api", "--host", host, "--port", str(port)],
        without_secret(stack.env, ENVIRONMENT="development", WEB_CONCURRENCY="1"),
        tmp_path / "api.log",
        ready=lambda _: api_ready(url),
    )
    try:
        service.start()  # fails if the process exits or never answers /readyz
    finally:
        service.stop()
