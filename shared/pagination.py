"""Keyset pagination, written once: every list that can grow is paged by its sort key, never by
OFFSET (whose cost grows with the page number).

A page is two halves:
- `keyset(statement, key, after, descending=...)`: the SQL. ORDER BY the key columns, rows past the
  last one served (a row comparison, `(created_at, id) < (:at, :id)`, which a b-tree index on the
  same columns in the same order serves as a range scan), LIMIT one more than the page: the extra
  row says whether a next page exists, without a COUNT.
- `page_of(rows, limit, position_of, item_of, page=...)`: the Page. The first `limit` rows (each
  `item_of(row)`), and the next cursor (the position of the last row served, encoded) only when
  the extra row came back.

The key must be unique (end it with the primary key), or rows sharing a key across a page boundary
would be skipped or repeated.
"""

from collections.abc import Callable, Sequence
from typing import Any, TypeVar, overload

from sqlalchemy import SQLColumnExpression, tuple_
from sqlalchemy.sql import Select

from shared.schemas import CursorPosition, Page

Row = TypeVar("Row")
Item = TypeVar("Item")
PageT = TypeVar("PageT", bound=Page[Any])
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


@overload
def page_of(
    rows: Sequence[Row],
    limit: int,
    position_of: Callable[[Row], CursorPosition],
    item_of: Callable[[Row], Any] | None = None,
    *,
    page: type[PageT],
) -> PageT: ...


@overload
def page_of(
    rows: Sequence[Row],
    limit: int,
    position_of: Callable[[Row], CursorPosition],
    item_of: Callable[[Row], Item] | None = None,
) -> Page[Item]: ...


def page_of(
    rows: Sequence[Row],
    limit: int,
    position_of: Callable[[Row], CursorPosition],
    item_of: Callable[[Row], Any] | None = None,
    *,
    page: type[Page[Any]] | None = None,
) -> Page[Any]:
    """The Page of `rows` (fetched with `keyset(..., limit=limit)`): at most `limit` items, each
    `item_of(row)` (the row itself by default), and a next cursor when a row beyond them came back.

    `page` is the page to build (`Page[HeroRead]`, or a named subclass such as TaggedItemPage), its
    items validated as that page's; without it, a Page[Any]. An answer that may be either of two
    pages (`Page[HeroPublic] | Page[HeroRead]`) is validated against each in turn, and a Page[Any]
    would pass as the first, dropping the fields only the second has: such an answer names its page."""
    served = rows[:limit]
    items: list[Any] = list(served) if item_of is None else [item_of(row) for row in served]
    next_cursor = position_of(served[-1]).encode() if len(rows) > limit and served else None
    return (page or Page[Any])(items=items, next_cursor=next_cursor)


# How one kind of caller sees a list's rows: each row's item, and the page those items make.
View = tuple[Callable[[Any], Any], type[PageT]]
PublicPageT = TypeVar("PublicPageT", bound=Page[Any])


def page_as_seen(
    rows: Sequence[Row],
    limit: int,
    position_of: Callable[[Row], CursorPosition],
    *,
    full: bool,
    admin: View[PageT],
    public: View[PublicPageT],
) -> PageT | PublicPageT:
    """The page of `rows` in the shape of whoever asks: `admin`'s (every field) when the caller
    sees `full` records, else `public`'s. The one place a list that shows admins more picks its
    shape, so the pages of both kinds of caller are cut from the same rows in the same way."""
    if full:
        return page_of(rows, limit, position_of, admin[0], page=admin[1])
    return page_of(rows, limit, position_of, public[0], page=public[1])
