"""Comment moderation: the automatic rules (pure functions of the text, each naming its reason) and
the service that applies them to a pending comment without ever overriding a moderator. The outbox
handler of comment_moderation (shared/blog/jobs.py) runs it once a comment commits."""

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, func
from sqlalchemy.orm import Mapped
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth.callers import Caller
from shared.db import flush
from shared.errors import PermissionDenied
from shared.models.base import now_utc
from shared.models.blog import Comment, ModerationState
from shared.settings import Settings

# --- the rules ------------------------------------------------------------------------------------

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
    `normalized_sql` below (lower, not casefold, to match it)."""
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


# --- the service ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    comment_id: int
    state: ModerationState
    reason: str | None
    changed: bool


OWN_COMMENT = (
    "nobody moderates their own comment, admins included: another moderator (or the automatic rules) decides it"
)


def ensure_may_moderate(moderator: Caller, comment_author_id: int) -> None:
    """A person's decision on a comment is a check by someone other than its author: a moderator
    (or an admin) deciding their own comment is refused (403), whatever their role. Their comment
    is still moderated by the rules (the worker) or by another moderator; they may still edit it
    (back to pending) or delete it."""
    if moderator.id == comment_author_id:
        raise PermissionDenied(OWN_COMMENT)


def rule_config(settings: Settings) -> RuleConfig:
    return RuleConfig(
        banned_words=frozenset(word.casefold() for word in settings.moderation_banned_words),
        max_links=settings.moderation_max_links,
    )


def normalized_sql(content: ColumnElement[str] | Mapped[str]) -> ColumnElement[str]:
    """rules.normalized in SQL: whitespace runs (newlines too) become one space, then trimmed."""
    return func.lower(func.btrim(func.regexp_replace(content, r"\s+", " ", "g")))


async def _is_recent_duplicate(session: AsyncSession, comment: Comment, window: timedelta) -> bool:
    """Whether the same author posted the same text (case/spacing aside) shortly before."""
    text = normalized(comment.content)
    statement = (
        select(Comment.id)
        .where(
            col(Comment.author_id) == comment.author_id,
            col(Comment.id) != comment.id,
            col(Comment.created_at) <= comment.created_at,
            col(Comment.created_at) >= comment.created_at - window,
            normalized_sql(col(Comment.content)) == text,
        )
        .limit(1)
    )
    return (await session.exec(statement)).first() is not None


async def moderate_comment(session: AsyncSession, comment_id: int, settings: Settings) -> Decision | None:
    """Decide a pending comment by the rules. A comment already decided (by a moderator or an
    earlier run) is left alone, so re-running changes nothing. None if the comment is gone."""
    comment = (await session.exec(select(Comment).where(col(Comment.id) == comment_id).with_for_update())).first()
    if comment is None:
        return None
    if comment.moderation_state != ModerationState.pending:
        return Decision(comment_id, ModerationState(comment.moderation_state), comment.moderation_reason, False)
    reason = rejection_reason(comment.content, rule_config(settings))
    window = timedelta(seconds=settings.moderation_duplicate_window_seconds)
    if reason is None and await _is_recent_duplicate(session, comment, window):
        reason = "duplicate of a recent comment by the same author"
    comment.moderation_state = ModerationState.rejected if reason else ModerationState.approved
    comment.moderation_reason = reason
    comment.moderated_at = now_utc()
    comment.moderated_by_id = None  # decided by the rules, not a person
    await flush(session)
    return Decision(comment_id, ModerationState(comment.moderation_state), reason, True)
