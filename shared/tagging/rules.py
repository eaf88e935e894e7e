"""What the tagging tables' named constraints mean to a person: a 409 (or a 422) names the rule
and says this. Names come from the naming convention in shared/models/base.py, so they are stable
across migrations."""

from shared.errors import Rule

RULES: dict[str, Rule] = {
    "uq_tag_taggable_type_taggable_id_name": Rule(("name",), "the item already has this tag"),
    "ck_tag_taggable_type_valid": Rule(("taggable_type",), "taggable_type must be 'article' or 'image'"),
    "fk_tag_taggable": Rule(("taggable_id",), "the tagged item does not exist"),
    "fk_article_author_id_user_account": Rule(("author_id",), "the author does not exist or still has articles"),
    "fk_image_author_id_user_account": Rule(("author_id",), "the author does not exist or still has images"),
    "ck_tag_name_length": Rule(("name",), "a tag name must be 1 to 50 characters"),
    "ck_article_title_length": Rule(("title",), "title must be 1 to 200 characters"),
    "ck_article_status_valid": Rule(("status",), "status must be draft or published"),
    "ck_image_filename_length": Rule(("filename",), "filename must be 1 to 255 characters"),
}
