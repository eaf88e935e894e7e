"""Automatic comment moderation rules: pure functions of the text, each naming its reason."""

import re
from dataclasses import dataclass

_LINK = re.compile(r"https?://|www\.", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# Shouting: mostly capitals over enough letters to mean it ("OK" is not shouting).
SHOUTING_MIN_LETTERS = 12
SHOUTING_UPPER_SHARE = 0.7


@dataclass(frozen=True)
class RuleConfig:
    banned_words: frozenset[str]
    max_links: int


def normalized(text: str) -> str:
    """The form duplicates are compared in: case and runs of whitespace ignored. Mirrors
    `normalized_sql` in shared/moderation/service.py (lower, not casefold, to match it)."""
    return " ".join(text.split()).lower()


def rejection_reason(text: str, config: RuleConfig) -> str | None:
    """Why the text is rejected, or None if no rule objects. Checked cheapest first."""
    stripped = text.strip()
    if not stripped:
        return "empty comment"
    words = {word.casefold() for word in _WORD.findall(stripped)}
    banned = sorted(words & config.banned_words)
    if banned:
        return f"banned words: {', '.join(banned)}"
    links = len(_LINK.findall(stripped))
    if links > config.max_links:
        return f"too many links ({links} > {config.max_links})"
    letters = [c for c in stripped if c.isalpha()]
    if (
        len(letters) >= SHOUTING_MIN_LETTERS
        and sum(c.isupper() for c in letters) / len(letters) >= SHOUTING_UPPER_SHARE
    ):
        return "shouting (mostly capital letters)"
    return None
