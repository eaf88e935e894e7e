"""What the blog tables' named constraints mean to a person: a 409 (or a 422) names the rule
and says this. Names come from the naming convention in shared/models/base.py, so they are stable
across migrations."""

from shared.errors import Rule

RULES: dict[str, Rule] = {
    "ck_post_status_valid": Rule(("status",), "status must be draft, published or archived"),
    "fk_post_author_id_user_account": Rule(("author_id",), "the author does not exist or still has posts"),
    "fk_post_category_id_category": Rule(("category_id",), "the category does not exist"),
    "fk_comment_post_id_post": Rule(("post_id",), "the post does not exist"),
    "fk_comment_author_id_user_account": Rule(("author_id",), "the author does not exist or still has comments"),
    "ck_post_title_length": Rule(("title",), "title must be 1 to 200 characters"),
    "ck_comment_content_length": Rule(("content",), "a comment must be 1 to 10000 characters"),
    "ck_comment_moderation_state_valid": Rule(
        ("moderation_state",), "moderation_state must be pending, approved or rejected"
    ),
    "ck_comment_moderated_at_matches_state": Rule(
        ("moderation_state", "moderated_at"), "a decided comment records when it was decided; a pending one has no time"
    ),
    "fk_comment_moderated_by_id_user_account": Rule(("moderated_by_id",), "the moderator does not exist"),
}
