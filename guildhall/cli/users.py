"""`guildhall create-user`: a user (the first admin, say), the password prompted or read from stdin."""

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.users.schemas import UserCreate

# The role names of shared.models.users.Role, spelled out so that building the parser (and --help) does
# not import the models; tests/test_cli_startup.py holds the two equal.
ROLES = ("author", "moderator", "operator", "admin")


def read_password() -> str:
    """Prompted twice on a terminal; otherwise the first line of standard input (for scripts)."""
    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise SystemExit("guildhall create-user: the passwords differ")
        return password
    return sys.stdin.readline().rstrip("\n")


async def _create_user(data: "UserCreate") -> int:
    from shared.db import create_engine, create_session_factory, unit_of_work
    from shared.users.service import create_user

    engine = create_engine()
    try:
        async with unit_of_work(create_session_factory(engine)) as session:
            user = await create_user(session, data)
        assert user.id is not None
        return user.id
    finally:
        await engine.dispose()


def cmd_create_user(args: argparse.Namespace) -> int:
    import asyncio

    from pydantic import ValidationError

    from shared.errors import DomainError
    from shared.users.schemas import UserCreate

    try:
        data = UserCreate(username=args.username, email=args.email, password=read_password(), role=args.role)
    except ValidationError as error:
        for problem in error.errors():
            print(f"guildhall create-user: {'.'.join(map(str, problem['loc']))}: {problem['msg']}", file=sys.stderr)
        return 1
    try:
        user_id = asyncio.run(_create_user(data))
    except DomainError as error:
        print(f"guildhall create-user: {error.message}", file=sys.stderr)
        return 1
    print(f"created {data.role} {data.username} (id {user_id}); log in at POST /api/v1/auth/token")
    return 0
