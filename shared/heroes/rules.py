"""What the heroes tables' named constraints mean to a person: a 409 (or a 422) names the rule
and says this. Names come from the naming convention in shared/models/base.py, so they are stable
across migrations."""

from shared.errors import Rule

RULES: dict[str, Rule] = {
    "uq_hero_name_secret_identity": Rule(
        ("name", "secret_identity"), "a hero with this name and secret identity already exists"
    ),
    "ck_hero_positive_age": Rule(("age",), "age must be greater than 0"),
    "ck_hero_valid_power_level": Rule(("power_level",), "power level must be between 0 and 100"),
    "ck_hero_name_not_secret": Rule(("name",), 'name cannot be "secret" (in any case)'),
    "ck_hero_young_hero_power": Rule(("age", "power_level"), "a hero under 18 cannot have a power level above 50"),
    "fk_hero_team_id_team": Rule(("team_id",), "the team does not exist"),
    "uq_team_name": Rule(("name",), "a team with this name already exists"),
    "fk_item_hero_id_hero": Rule(("hero_id",), "the hero does not exist"),
    "uq_transfer_log_idempotency_key": Rule(("idempotency_key",), "this transfer was already logged"),
}
