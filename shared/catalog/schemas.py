"""Request and response shapes for categories and products (never the table classes themselves)."""

import re
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import BeforeValidator, StringConstraints, WithJsonSchema, field_validator, model_validator
from pydantic import Field as PydanticField
from sqlmodel import Field, SQLModel

from shared.schemas import CursorPosition, FromText, RowId, Strict, Trimmed, omittable

CategoryName = Annotated[str, Trimmed(100)]
ProductName = Annotated[str, Trimmed(200)]

# Money is exact: NUMERIC(12, 2) in the table, Decimal here, a string in JSON.
CENT = Decimal("0.01")


class CategoryCreate(Strict):
    name: CategoryName = Field(description="Unique among its siblings; trimmed.")
    description: str | None = Field(default=None, max_length=2000, description="Free text.")
    parent_id: RowId | None = Field(default=None, description="The parent category; none makes it a root.")


class CategoryUpdate(Strict):
    """A partial update: rename, redescribe, or move (`parent_id`; null moves it to the top)."""

    name: CategoryName | None = omittable(description="A new name, unique among its siblings; trimmed.")
    description: str | None = Field(default=None, max_length=2000, description="A new description.")
    parent_id: RowId | None = Field(
        default=None, description="A new parent (not the category itself nor below it); null makes it a root."
    )

    @model_validator(mode="after")
    def name_cannot_be_null(self) -> Self:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null")
        return self


class CategoryRead(SQLModel):
    id: int
    name: str
    description: str | None
    is_active: bool
    parent_id: int | None


class CategoryTreeEntry(CategoryRead):
    """One category of a tree page (GET /categories/tree): the pages list the tree in preorder
    (each category right after its parent, siblings by name then id), `depth` 0 for a root; a
    client nests them by parent_id."""

    depth: int


# A tree position is a category's path (shared.models.catalog.Category.path): a step per level of
# at most a name (100 characters), a separator and 10 digits.
PathStep = Annotated[str, StringConstraints(min_length=12, max_length=111)]


class TreePosition(CursorPosition):
    """Where a tree page ended: the last category's path."""

    path: Annotated[list[PathStep], PydanticField(min_length=1, max_length=1000)]


# A price: a JSON number, or a string of digits with at most two decimals ("12.50"), up to
# 9,999,999,999.99 (NUMERIC(12, 2)). The string form is checked against its pattern, so what the
# schema says is what is accepted ("1e2" or " 12" is refused, though Decimal would read them).
PRICE_TEXT = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"
PRICE_MAX = Decimal("9999999999.99")


def _price_text(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a price is a number or a string of digits, not true or false")
    if isinstance(value, str) and re.fullmatch(PRICE_TEXT, value) is None:
        raise ValueError('a price as text is digits with at most two decimals, like "12.50"')
    return value


Price = Annotated[
    Decimal,
    FromText,
    BeforeValidator(_price_text),
    PydanticField(ge=0, le=PRICE_MAX, max_digits=12, decimal_places=2),
    WithJsonSchema(
        {
            "anyOf": [
                # No multipleOf 0.01: validators that divide in floating point would refuse 19.99.
                {"type": "number", "minimum": 0, "maximum": float(PRICE_MAX), "description": "at most two decimals"},
                {"type": "string", "pattern": PRICE_TEXT},
            ]
        }
    ),
]


class ProductCreate(Strict):
    name: ProductName = Field(description="The product's name; trimmed.")
    price: Price = Field(description='At least 0, at most 2 decimals: a number or a string ("9.90").')
    category_id: RowId | None = Field(default=None, description="The product's category, if any.")

    @field_validator("price")
    @classmethod
    def to_cents(cls, price: Decimal) -> Decimal:
        """Always two decimals, so the response to the POST reads like every later GET ("10.00")."""
        return price.quantize(CENT)


class ProductRead(SQLModel):
    id: int
    name: str
    # Serialized as a JSON string ("19.99"): a float could not hold every price exactly.
    price: Decimal
    category_id: int | None
