"""Small SQL building blocks shared by the domain query modules."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, BindParameter, bindparam
from sqlalchemy.types import TypeEngine

# selectinload sends its parent keys in chunks (500 by default), so the statement count
# would creep up with the row count; 10,000 keys per IN keeps it one per level for any
# page this service serves, well inside asyncpg's 32,767-parameter limit.
# Use: selectinload(Team.heroes, chunksize=EAGER_CHUNK)
EAGER_CHUNK = 10_000


def array_param(name: str, values: Sequence[Any], item_type: TypeEngine[Any]) -> BindParameter[Any]:
    """One bound array parameter; the asyncpg dialect renders its type (`$1::INTEGER[]`).

    Passing a list as ONE array keeps any number of values to one parameter: an
    expanding `IN (...)` would hit asyncpg's 32,767-parameter limit past that many ids.
    """
    return bindparam(name, list(values), type_=ARRAY(item_type))
