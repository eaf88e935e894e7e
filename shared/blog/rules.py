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
}
