"""Which servers `make run` and the test harness use (guildhall.embedded.servers.choose_servers).
The case "nothing answers on the defaults" is proven by tests/e2e/test_embedded.py's forced mode and
on a machine without servers (scripts/bare-machine.sh): here the defaults may well answer."""

from pathlib import Path

import pytest

from guildhall.embedded import EmbeddedError, EmbeddedServers, choose_servers
from shared.settings import Settings

DEAD = "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"


@pytest.fixture(autouse=True)
def no_urls_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings() as on a fresh machine (the harness may have set the URLs for its own servers,
    and a developer's .env may set them too: Settings reads .env from the working directory)."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.chdir(tmp_path)


def test_a_set_url_is_used_as_is_even_unreachable_and_named() -> None:
    choice = choose_servers({}, Settings(database_url=DEAD))
    assert not choice.embedded
    assert choice.database_url == DEAD and choice.why == "from DATABASE_URL"


def test_forced_embedded_servers_are_chosen_but_never_together_with_a_url() -> None:
    assert choose_servers({"GUILDHALL_EMBEDDED": "1"}, Settings()).embedded
    with pytest.raises(EmbeddedError, match="GUILDHALL_EMBEDDED=1 and REDIS_URL are both set"):
        choose_servers({"GUILDHALL_EMBEDDED": "1"}, Settings(redis_url="redis://127.0.0.1:1/0"))


def test_embedded_servers_can_be_refused_and_a_typo_is_named() -> None:
    choice = choose_servers({"GUILDHALL_EMBEDDED": "0"}, Settings())
    assert not choice.embedded and choice.database_url == Settings().database_url
    with pytest.raises(EmbeddedError, match="GUILDHALL_EMBEDDED='maybe'"):
        choose_servers({"GUILDHALL_EMBEDDED": "maybe"}, Settings())


def test_ports_and_home_come_from_the_environment_and_bad_ports_are_named() -> None:
    env = {"GUILDHALL_HOME": "/srv/gh", "GUILDHALL_PG_PORT": "15432", "GUILDHALL_REDIS_PORT": "16379"}
    servers = EmbeddedServers.for_run(env)
    assert servers.database_url() == "postgresql+asyncpg://postgres@127.0.0.1:15432/guildhall"
    assert servers.redis_url() == "redis://127.0.0.1:16379/0"
    assert str(servers.postgres.data) == "/srv/gh/postgres/data"
    assert str(EmbeddedServers.for_tests(env).directory) == "/srv/gh/test"
    with pytest.raises(EmbeddedError, match="GUILDHALL_PG_PORT='70000' is not a port number"):
        EmbeddedServers.for_run({"GUILDHALL_PG_PORT": "70000"})
