"""The API's doors, one module per domain (or concern), each with its `router`: the app includes
every module found here (`routers()`), so a new module needs no edit elsewhere.

A router is served under the API prefix (/api/v1), unless its module says `AT_ROOT = True` (the
health probes). Modules are included by name; no route of one module may shadow another module's
(tests/api/test_routers.py), so their order never decides which route answers.
"""

import importlib
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import APIRouter


@dataclass(frozen=True)
class Door:
    module: str
    router: APIRouter
    at_root: bool


def routers() -> Iterator[Door]:
    """Every routes module's router, by module name."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        router = getattr(module, "router", None)
        if not isinstance(router, APIRouter):
            raise TypeError(f"{module.__name__} has no APIRouter named router: every routes module serves one")
        yield Door(info.name, router, at_root=getattr(module, "AT_ROOT", False) is True)
