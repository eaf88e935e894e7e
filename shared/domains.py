"""The domains: found, not listed. A domain is a package `shared/<name>/` holding the fixed file set
(CONTRIBUTING.md, "Adding a domain"); the other packages of `shared` are the infrastructure every
domain uses. Whatever is declared per domain (constraint messages, jobs, outbox handlers) is
collected from here, so adding a domain edits no registry elsewhere.

Found by looking at the files, not by importing them: importing this module is cheap and imports no
domain (each collector imports what it reads, when it is first asked).
"""

import importlib
from functools import cache
from pathlib import Path
from types import ModuleType

# What a domain package holds (each a module): schemas.py (request and response shapes),
# queries.py (its SQL), service.py (its rules; flush only), jobs.py (its job specs and outbox
# handlers), rules.py (its constraints' messages).
DOMAIN_FILES = ("schemas", "queries", "service", "jobs", "rules")

# Packages of shared that serve every domain and are none.
INFRASTRUCTURE = frozenset({"auth", "jobs", "models", "ops"})

_SHARED = Path(__file__).resolve().parent


def _found() -> tuple[str, ...]:
    return tuple(
        sorted(
            path.name
            for path in _SHARED.iterdir()
            if (path / "__init__.py").is_file() and path.name not in INFRASTRUCTURE and not path.name.startswith("_")
        )
    )


DOMAINS: tuple[str, ...] = _found()


@cache
def modules(kind: str) -> tuple[ModuleType, ...]:
    """Each domain's `kind` module (one of DOMAIN_FILES), imported, in DOMAINS order."""
    if kind not in DOMAIN_FILES:
        raise ValueError(f"{kind!r} is not one of a domain's files {DOMAIN_FILES}")
    return tuple(importlib.import_module(f"shared.{domain}.{kind}") for domain in DOMAINS)
