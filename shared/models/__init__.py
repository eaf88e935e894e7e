"""Every table: one module per domain (`shared/models/<domain>.py`), and one per infrastructure
package that keeps tables (`auth`: revoked tokens; `jobs`: job records, the outbox, idempotency
keys). Importing this package imports them all, so SQLModel.metadata is whole (Alembic reads it)
and relationships resolve by class name; the modules are found from the domains, never listed.

Import a table from its module: `from shared.models.heroes import Hero`.
"""

import importlib
import importlib.util

from shared.domains import DOMAINS

# Who may own a table: a domain, or the infrastructure packages that keep state of their own.
TABLE_OWNERS: tuple[str, ...] = (*DOMAINS, "auth", "jobs")


def load_all() -> None:
    """Import every table module (idempotent: Python imports each once)."""
    for owner in TABLE_OWNERS:
        if importlib.util.find_spec(f"shared.models.{owner}") is not None:
            importlib.import_module(f"shared.models.{owner}")


load_all()
