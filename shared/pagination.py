"""Keyset pagination, written once: every list that can grow is paged by its sort key, never by
OFFSET (whose cost grows with the page number).

A page is two halves:
- `keyset(statement, key, after, descending=...)`: the SQL. ORDER BY the key columns, rows past the
  last one served (a row comparison, `(created_at, id) < (:at, :id)`, which a b-tree index on the
  same columns in the same order serves as a range scan), LIMIT one more than the page: the extra
  row says whether a next page exists, without a COUNT.
- `page_of(rows, limit, position_of)`: the Page. The first `limit` rows, and the next cursor (the
  position of the last row served, encoded) only when the extra row came back.

The key must be unique (end it with the primary key), or rows sharing a key across a page boundary
would be skipped or repeated.
"""

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import SQLColumnExpression, tuple_
from sqlalchemy.sql import Select

from shared.schemas import CursorPosition, Page

Row = TypeVar("Row")
Item = TypeVar("Item")
# Any SELECT, of any number of columns: SQLAlchemy's own, or sqlmodel's (whose Select and
# SelectOfScalar subclass it). `where` and `order_by` keep the statement's type.
S = TypeVar("S", bound=Select[*tuple[Any, ...]])


def keyset(
    statement: S,
    key: Sequence[SQLColumnExpression[Any]],
    after: Sequence[Any] | None,
    *,
    limit: int,
    descending: bool = False,
) -> S:
    """`statement` ordered by `key` (columns, or the mapped attributes `col()` gives), from the row
    after `after` (the key's values of the last row served; None for the first page), `limit + 1`
    rows at most."""
    if after is not None:
        if len(after) != len(key):
            raise ValueError(f"a position of {len(after)} values for a key of {len(key)} columns")
        row, position = (key[0], after[0]) if len(key) == 1 else (tuple_(*key), tuple_(*after))
        statement = statement.where(row < position if descending else row > position)
    order = [column.desc() if descending else column.asc() for column in key]
    return statement.order_by(*order).limit(limit + 1)


def page_of(
    rows: Sequence[Row],
    limit: int,
    position_of: Callable[[Row], CursorPosition],
    item_of: Callable[[Row], Item] | None = None,
) -> Page[Item]:
    """The Page of `rows` (fetched with `keyset(..., limit=limit)`): at most `limit` items, each
    `item_of(row)` (the row itself by default), and a next cursor when a row beyond them came back."""
    served = rows[:limit]
    items: list[Any] = list(served) if item_of is None else [item_of(row) for row in served]
    next_cursor = position_of(served[-1]).encode() if len(rows) > limit and served else None
    return Page[Any](items=items, next_cursor=next_cursor)
