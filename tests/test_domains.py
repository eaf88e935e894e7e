"""The shape of a domain (CONTRIBUTING.md, "A domain's files"), held for every domain found:

- each domain package `shared/<domain>/` holds the five files;
- every table is defined in `shared/models/<owner>.py`, its owner a domain or an infrastructure
  package that keeps tables (shared.models.TABLE_OWNERS);
- each domain's rules.py explains every named CHECK, UNIQUE and FOREIGN KEY of its own tables
  (unique indexes included), and names no other constraint (but the deliberate ones below).
"""

import importlib
import importlib.util
from pathlib import Path

import pytest
from sqlalchemy import CheckConstraint, ForeignKeyConstraint, PrimaryKeyConstraint, Table, UniqueConstraint
from sqlmodel import SQLModel

from shared.domains import DOMAIN_FILES, DOMAINS
from shared.errors import Rule
from shared.models import TABLE_OWNERS, load_all

SHARED = Path(__file__).resolve().parent.parent / "shared"

# Constraints a domain's rules name that no table declares, each with why it exists anyway.
NOT_IN_THE_TABLES = {
    # Raised by the trigger tag_item_must_exist (migration 0001), the generic foreign key's guard.
    "fk_tag_taggable": "tagging",
}


def _tables_by_owner() -> dict[str, list[Table]]:
    load_all()
    owners: dict[str, list[Table]] = {}
    for mapper in SQLModel._sa_registry.mappers:  # every mapped class, as tests/shared/test_models.py reads them
        table = mapper.local_table
        assert isinstance(table, Table)
        owners.setdefault(mapper.class_.__module__, []).append(table)
    return owners


def _named_constraints(table: Table) -> set[str]:
    """The CHECK, UNIQUE and FOREIGN KEY constraints of `table` (unique indexes too) by name."""
    kinds = (CheckConstraint, UniqueConstraint, ForeignKeyConstraint)
    names = {str(constraint.name) for constraint in table.constraints if isinstance(constraint, kinds)}
    return names | {str(index.name) for index in table.indexes if index.unique}


def _every_constraint(table: Table) -> set[str]:
    """Every constraint name of `table`, its primary key included (a duplicate key breaks it)."""
    primary = {str(c.name) for c in table.constraints if isinstance(c, PrimaryKeyConstraint)}
    return _named_constraints(table) | primary


def _rules_of(domain: str) -> dict[str, Rule]:
    if importlib.util.find_spec(f"shared.{domain}.rules") is None:
        pytest.fail(f"shared/{domain}/rules.py is missing")
    rules: dict[str, Rule] = importlib.import_module(f"shared.{domain}.rules").RULES
    return rules


def test_the_domains_are_found() -> None:
    assert {"blog", "catalog", "courses", "heroes", "tagging", "users"} <= set(DOMAINS)


@pytest.mark.parametrize("domain", DOMAINS)
def test_each_domain_holds_the_five_files(domain: str) -> None:
    missing = [f"shared/{domain}/{name}.py" for name in DOMAIN_FILES if not (SHARED / domain / f"{name}.py").is_file()]
    assert missing == [], f"CONTRIBUTING.md, A domain's files: {domain} lacks {missing}"


def test_every_table_is_defined_in_the_module_of_its_owner() -> None:
    allowed = {f"shared.models.{owner}" for owner in TABLE_OWNERS}
    by_module = _tables_by_owner()
    stray = {module: [table.name for table in tables] for module, tables in by_module.items() if module not in allowed}
    assert stray == {}, "tables outside shared/models/<domain>.py (or auth.py, jobs.py)"
    found = {table.name for tables in by_module.values() for table in tables}
    assert found == set(SQLModel.metadata.tables), "tables with no mapped class tell no module"


@pytest.mark.parametrize("domain", DOMAINS)
def test_each_domain_explains_every_constraint_of_its_tables_and_no_other(domain: str) -> None:
    rules = _rules_of(domain)
    tables = _tables_by_owner().get(f"shared.models.{domain}", [])
    wanted = set().union(*(_named_constraints(table) for table in tables))
    known = set().union(*(_every_constraint(table) for table in tables))
    known |= {name for name, owner in NOT_IN_THE_TABLES.items() if owner == domain}
    assert sorted(wanted - rules.keys()) == [], f"constraints of {domain}'s tables without a rule in its rules.py"
    assert sorted(rules.keys() - known) == [], f"rules in shared/{domain}/rules.py for constraints not of its tables"
    assert all(rule.message and rule.fields for rule in rules.values())
