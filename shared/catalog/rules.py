"""What the catalog tables' named constraints mean to a person: a 409 (or a 422) names the rule
and says this. Names come from the naming convention in shared/models/base.py, so they are stable
across migrations."""

from shared.errors import Rule

RULES: dict[str, Rule] = {
    "uq_category_parent_id_name": Rule(("name",), "a sibling category already has this name"),
    "ck_category_not_own_parent": Rule(("parent_id",), "a category cannot be its own parent"),
    "fk_category_parent_id_category": Rule(("parent_id",), "the parent category does not exist or still has children"),
    "ck_product_price_not_negative": Rule(("price",), "price cannot be negative"),
    "fk_product_category_id_category": Rule(("category_id",), "the category does not exist"),
    "ck_category_name_length": Rule(("name",), "a category's name must be 1 to 100 characters"),
    "ck_product_name_length": Rule(("name",), "a product's name must be 1 to 200 characters"),
}
