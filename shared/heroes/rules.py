"""What the heroes tables' named constraints mean to a person: a 409 (or a 422) names the rule
and says this. Names come from the naming convention in shared/models/base.py, so they are stable
across migrations."""

from shared.errors import Rule
from shared.models.heroes import (
    NAME_NOT_SECRET_MESSAGE,
    POSITIVE_AGE_MESSAGE,
    VALID_POWER_LEVEL_MESSAGE,
    YOUNG_HERO_POWER_MESSAGE,
)

RULES: dict[str, Rule] = {
    "uq_hero_name_secret_identity": Rule(
        ("name", "secret_identity"), "a hero with this name and secret identity already exists"
    ),
    # The hero rules' messages are the validators' own (shared/models/heroes.py): a merged update
    # that breaks one is matched to its CHECK by message (shared.heroes.service._broken_rule).
    "ck_hero_positive_age": Rule(("age",), POSITIVE_AGE_MESSAGE),
    "ck_hero_valid_power_level": Rule(("power_level",), VALID_POWER_LEVEL_MESSAGE),
    "ck_hero_name_not_secret": Rule(("name",), NAME_NOT_SECRET_MESSAGE),
    "ck_hero_young_hero_power": Rule(("age", "power_level"), YOUNG_HERO_POWER_MESSAGE),
    "fk_hero_team_id_team": Rule(("team_id",), "the team does not exist"),
    "uq_team_name": Rule(("name",), "a team with this name already exists"),
    "fk_item_hero_id_hero": Rule(("hero_id",), "the hero does not exist"),
    "uq_transfer_log_outbox_message_id": Rule(("outbox_message_id",), "this transfer was already logged"),
    # Written with its job record, in one transaction: the job exists, unless it was deleted meanwhile.
    # team_stats is written only by its triggers (migration 0009): these fire on a bug there, not on input.
    "ck_team_stats_hero_count_not_negative": Rule(
        ("hero_count",), "a team's kept hero count went below zero: the team statistics are out of step"
    ),
    "fk_team_stats_team_id_team": Rule(("team_id",), "the team of these statistics does not exist"),
    "fk_hero_update_items_job_id_job": Rule(("job_id",), "the bulk update's job record does not exist"),
}
