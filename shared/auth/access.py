"""Who may change what: the ownership rules every write path of the domain applies."""

from shared.auth.callers import Caller
from shared.errors import PermissionDenied
from shared.models.users import Role


def ensure_owner_or_admin(user: Caller, owner_id: int, what: str) -> None:
    """Authors may change only what they wrote; admins may change anything."""
    if user.role != Role.admin and user.id != owner_id:
        raise PermissionDenied(f"only the author of this {what} or an admin may change it")


def is_moderator(user: Caller | None) -> bool:
    return user is not None and user.role in (Role.moderator, Role.admin)
