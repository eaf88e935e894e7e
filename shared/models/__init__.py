"""Every table, imported together so SQLModel.metadata is whole (Alembic reads it)."""

from shared.models.auth import RevokedToken
from shared.models.base import NAMING_CONVENTION
from shared.models.blog import Comment, ModerationState, Post, PostStatus, Role, User
from shared.models.catalog import Category, Product
from shared.models.courses import Course, Enrollment, Semester, Student
from shared.models.heroes import Hero, HeroBase, Item, Team, TeamBase, TransferLog
from shared.models.jobs import HeroUpdateItems, JobRecord, JobState
from shared.models.outbox import IdempotencyRecord, OutboxMessage, OutboxTopic
from shared.models.tagging import Article, ArticleStatus, Image, Tag, TaggableType

__all__ = [
    "NAMING_CONVENTION",
    "Article",
    "ArticleStatus",
    "Category",
    "Comment",
    "Course",
    "Enrollment",
    "Hero",
    "HeroBase",
    "HeroUpdateItems",
    "IdempotencyRecord",
    "Image",
    "Item",
    "JobRecord",
    "JobState",
    "ModerationState",
    "OutboxMessage",
    "OutboxTopic",
    "Post",
    "PostStatus",
    "Product",
    "RevokedToken",
    "Role",
    "Semester",
    "Student",
    "Tag",
    "TaggableType",
    "Team",
    "TeamBase",
    "TransferLog",
    "User",
]
