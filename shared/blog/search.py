"""The post list's title search: only terms the trigram index (ix_post_title_trgm) can serve, and
LIKE's wildcards taken literally (shared.blog.queries uses both; the route takes the length rule)."""

import re

from shared.errors import ConstraintViolation

# The shortest search term (the route's `q`, Query(min_length=...)): a term of 1 or 2 characters has
# no trigram, so ILIKE '%q%' can only read every post (276 ms at 1,000,000 posts, against 3 ms).
SEARCH_MIN_LENGTH = 3
SEARCH_RULE = "search_term_indexable"
SEARCH_RULE_MESSAGE = (
    "the search term gives the title index nothing to look up: it needs 3 letters or digits in a row,"
    " or 1 or 2 beside a space or punctuation mark (' ab', 'ab!', 'a b'); a term of only spaces and"
    " punctuation, say, would read every post"
)
_WORD = re.compile(r"[^\W_]+")  # what pg_trgm counts as a word: letters and digits


def searchable(term: str) -> bool:
    """Whether ILIKE '%term%' gives pg_trgm at least one trigram to look up in ix_post_title_trgm.

    pg_trgm splits a LIKE pattern into words (runs of letters and digits) and pads a word with two
    spaces before it where a space or punctuation mark precedes it, one after it where one follows;
    next to the pattern's own % it pads nothing. A word yields a trigram once it and its padding
    make 3 characters: "abc", "ab ", "!!a" and "a b" do; "%%%", "   " and "a!!" do not, and
    PostgreSQL would read every row for them whatever the term's length."""
    for word in _WORD.finditer(term):
        before = 2 if word.start() > 0 else 0
        after = 1 if word.end() < len(term) else 0
        if before + len(word.group()) + after >= 3:
            return True
    return False


def ensure_searchable(term: str | None) -> None:
    """422 on `query.q` (rule search_term_indexable) for a term the trigram index cannot serve,
    before any SQL runs; the length rule (SEARCH_MIN_LENGTH) is the route's own."""
    if term is not None and not searchable(term):
        raise ConstraintViolation(
            kind="check",
            constraint=SEARCH_RULE,
            table=None,
            fields=("query.q",),
            message=SEARCH_RULE_MESSAGE,
            value=None,
        )


def escape_like(term: str) -> str:
    """`term` with LIKE's wildcards (and the escape character itself) taken literally.
    Backslash is PostgreSQL's default LIKE escape, so the pattern needs no ESCAPE clause."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
