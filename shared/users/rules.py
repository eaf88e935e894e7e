"""What the users tables' named constraints mean to a person: a 409 (or a 422) names the rule
and says this. Names come from the naming convention in shared/models/base.py, so they are stable
across migrations."""

from shared.errors import Rule

RULES: dict[str, Rule] = {
    "uq_user_account_username": Rule(("username",), "this username is taken"),
    "uq_user_account_email_lower": Rule(("email",), "a user with this email already exists"),
    "ck_user_account_username_length": Rule(("username",), "username must be 3 to 50 characters"),
    "ck_user_account_role_valid": Rule(("role",), "role must be author, moderator, operator or admin"),
}
